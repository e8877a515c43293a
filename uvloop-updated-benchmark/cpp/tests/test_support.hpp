// Test helpers: run a server on a background thread, or a scripted misbehaving one.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "echo_server.hpp"
#include "loadgen.hpp"
#include "net.hpp"

namespace echo {
// Test names and failure messages show the backend by name.
inline void PrintTo(IoBackend io, std::ostream* os) {
  *os << io_name(io);
}
}  // namespace echo

namespace echo::testing {

// A load of exactly `requests` per connection, all measured (no warm-up, no window).
inline LoadConfig counted(std::uint16_t port, int conns, std::size_t size, std::uint64_t requests) {
  LoadConfig cfg;
  cfg.port = port;
  cfg.connections = conns;
  cfg.size = size;
  cfg.requests = requests;
  return cfg;
}

// A suite run once per echoload I/O backend (TEST_P; instantiate with ECHO_ON_EVERY_BACKEND).
// Every LoadConfig a test builds comes from config() or counted() so that it uses the backend.
class BackendTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == IoBackend::Uring) {
      if (const std::string why = uring_unavailable(); !why.empty()) GTEST_SKIP() << why;
    }
  }
  [[nodiscard]] LoadConfig config() const {
    LoadConfig cfg;
    cfg.io = GetParam();
    return cfg;
  }
  [[nodiscard]] LoadConfig counted(std::uint16_t port, int conns, std::size_t size,
                                   std::uint64_t requests) const {
    LoadConfig cfg = testing::counted(port, conns, size, requests);
    cfg.io = GetParam();
    return cfg;
  }
};

inline std::string backend_name(const ::testing::TestParamInfo<IoBackend>& info) {
  return io_name(info.param);
}

// No prefix: the tests are named Suite.Test/uring and Suite.Test/epoll.
#define ECHO_ON_EVERY_BACKEND(suite)                                                              \
  INSTANTIATE_TEST_SUITE_P(, suite,                                                               \
                           ::testing::Values(::echo::IoBackend::Uring, ::echo::IoBackend::Epoll), \
                           ::echo::testing::backend_name)

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

// Accepts `count` connections and runs `script` on each (blocking socket) in its own thread;
// an IndexedScript is also told the connection's accept order (0, 1, ...).
class ScriptedServer {
 public:
  using Script = std::function<void(int fd)>;
  using IndexedScript = std::function<void(int fd, int index)>;
  ScriptedServer(int count, Script script, const std::string& host = "127.0.0.1")
      : ScriptedServer(count, IndexedScript([script](int fd, int) { script(fd); }), host) {}
  ScriptedServer(int count, IndexedScript script, const std::string& host = "127.0.0.1")
      : listener_(listen_tcp(host, 0)) {
    port_ = local_port(listener_.get());
    acceptor_ = std::thread([this, count, script = std::move(script)] {
      for (int i = 0; i < count; ++i) {
        int fd = -1;
        while ((fd = ::accept(listener_.get(), nullptr, nullptr)) < 0) {
          if (errno != EAGAIN && errno != EINTR) return;
          ::usleep(1000);
        }
        workers_.emplace_back([fd, i, script] {
          Fd owned(fd);
          set_nodelay(fd);
          script(fd, i);
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

// A server with a listen backlog of `backlog` that accepts one connection per `pause` (never,
// if pause is zero) and echoes on the accepted ones, all from one thread (poll).
class SlowAcceptServer {
 public:
  SlowAcceptServer(int backlog, std::chrono::milliseconds pause)
      : listener_(listen_tcp("127.0.0.1", 0, backlog)), pause_(pause) {
    port_ = local_port(listener_.get());
    thread_ = std::thread([this] { run(); });
  }
  ~SlowAcceptServer() {
    stop_ = true;
    thread_.join();
  }
  SlowAcceptServer(const SlowAcceptServer&) = delete;
  SlowAcceptServer& operator=(const SlowAcceptServer&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  void run() {
    std::vector<Fd> conns;
    std::vector<pollfd> fds;
    auto next_accept = std::chrono::steady_clock::now() + pause_;
    std::array<char, 4096> buf{};
    while (!stop_) {
      if (pause_.count() > 0 && std::chrono::steady_clock::now() >= next_accept) {
        const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) conns.emplace_back(fd);
        next_accept += pause_;
      }
      fds.clear();
      for (const Fd& c : conns) fds.push_back({c.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 1) <= 0) continue;
      for (const pollfd& p : fds) {
        if (!(p.revents & POLLIN)) continue;
        const ssize_t r = ::recv(p.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (r > 0) ::send(p.fd, buf.data(), static_cast<std::size_t>(r), MSG_NOSIGNAL);
      }
    }
  }

  Fd listener_;
  std::uint16_t port_ = 0;
  std::chrono::milliseconds pause_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Reads and drops everything until the peer closes: a server that never answers.
inline void swallow(int fd) {
  std::array<char, 4096> buf{};
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
}

// Echoes until `until` returns true (given the bytes echoed so far), then swallows the rest.
template <class Until>
void echo_until(int fd, Until until) {
  std::array<char, 4096> buf{};
  std::uint64_t total = 0;
  while (!until(total)) {
    const ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r <= 0) return;
    std::size_t n = static_cast<std::size_t>(r);
    total += n;
    const char* p = buf.data();
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  swallow(fd);
}

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
