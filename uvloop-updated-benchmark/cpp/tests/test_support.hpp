// Test helpers: run a server on a background thread, or a scripted misbehaving one.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "echo_server.hpp"
#include "net.hpp"

namespace echo::testing {

// Runs an EchoServer's loop on a thread; stops and joins on destruction.
class ServerThread {
 public:
  explicit ServerThread(std::unique_ptr<EchoServer> server)
      : server_(std::move(server)), thread_([this] { server_->run(); }) {}
  ~ServerThread() {
    server_->stop();
    thread_.join();
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;
  [[nodiscard]] std::uint16_t port() const { return server_->port(); }
  [[nodiscard]] EchoServer& server() { return *server_; }

 private:
  std::unique_ptr<EchoServer> server_;
  std::thread thread_;
};

// Accepts `count` connections and runs `script` on each (blocking socket) in its own thread.
class ScriptedServer {
 public:
  using Script = std::function<void(int fd)>;
  ScriptedServer(int count, Script script) : listener_(listen_tcp("127.0.0.1", 0)) {
    port_ = local_port(listener_.get());
    acceptor_ = std::thread([this, count, script = std::move(script)] {
      for (int i = 0; i < count; ++i) {
        int fd = -1;
        while ((fd = ::accept(listener_.get(), nullptr, nullptr)) < 0) {
          if (errno != EAGAIN && errno != EINTR) return;
          ::usleep(1000);
        }
        workers_.emplace_back([fd, script] {
          Fd owned(fd);
          set_nodelay(fd);
          script(fd);
        });
      }
    });
  }
  ~ScriptedServer() {
    acceptor_.join();
    for (auto& w : workers_) w.join();
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  Fd listener_;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// Reads exactly n bytes (blocking); false on EOF or error.
inline bool read_exact(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

inline bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// SO_LINGER {on, 0}: when the descriptor is closed the peer sees a TCP reset, not a FIN.
inline void arm_reset(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

}  // namespace echo::testing
