#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <unordered_map>
#include <vector>

#include "echo_server.hpp"

namespace echo {
namespace {

constexpr std::size_t kBuf = 64 * 1024;

class EpollServer final : public EchoServer {
 public:
  EpollServer(const std::string& host, std::uint16_t port) : EchoServer(host, port) {}

  void run() override {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_.valid()) throw_sys("epoll_create1");
    watch(listener_.get(), EPOLLIN, EPOLL_CTL_ADD);
    watch(stop_fd_.get(), EPOLLIN, EPOLL_CTL_ADD);
    std::array<epoll_event, 256> events{};
    for (;;) {
      const int n = ::epoll_wait(ep_.get(), events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_sys("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        const auto& ev = events[static_cast<std::size_t>(i)];
        const int fd = ev.data.fd;
        if (fd == stop_fd_.get()) return;
        if (fd == listener_.get()) {
          accept_all();
        } else if (auto it = conns_.find(fd); it != conns_.end()) {
          if (!serve(fd, it->second, ev.events)) conns_.erase(it);
        }
      }
    }
  }

 private:
  struct Conn {
    Fd fd;
    std::vector<char> pending;  // bytes read but not yet written back
    std::size_t off = 0;
  };

  void watch(int fd, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_.get(), op, fd, &ev) < 0) throw_sys("epoll_ctl");
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // EAGAIN, or out of descriptors: retried on the next readiness
      }
      Conn c{Fd(fd), {}, 0};
      set_nodelay(fd);
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
      conns_.emplace(fd, std::move(c));
      ++accepted_;
    }
  }

  // Returns false when the connection is finished (closed, reset, error).
  bool serve(int fd, Conn& c, std::uint32_t events) {
    if (!c.pending.empty()) {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return true;
      if (!write_pending(c)) return false;
      if (!c.pending.empty()) return true;
      watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    }
    for (int rounds = 0; rounds < 16; ++rounds) {
      const ssize_t r = ::read(fd, buf_.data(), buf_.size());
      if (r == 0) return false;
      if (r < 0) return errno == EAGAIN || errno == EINTR;
      const auto got = static_cast<std::size_t>(r);
      std::size_t sent = 0;
      while (sent < got) {
        const ssize_t w = ::send(fd, buf_.data() + sent, got - sent, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN) return false;
          c.pending.assign(buf_.data() + sent, buf_.data() + got);
          c.off = 0;
          watch(fd, EPOLLOUT, EPOLL_CTL_MOD);  // stop reading until this is out
          return true;
        }
        sent += static_cast<std::size_t>(w);
      }
      if (got < buf_.size()) return true;
    }
    return true;  // level-triggered: more is read on the next round
  }

  bool write_pending(Conn& c) {
    while (c.off < c.pending.size()) {
      const ssize_t w =
          ::send(c.fd.get(), c.pending.data() + c.off, c.pending.size() - c.off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN;
      }
      c.off += static_cast<std::size_t>(w);
    }
    c.pending.clear();
    c.off = 0;
    return true;
  }

  Fd ep_;
  std::unordered_map<int, Conn> conns_;
  std::array<char, kBuf> buf_{};
};

}  // namespace

std::unique_ptr<EchoServer> make_epoll_server(const std::string& host, std::uint16_t port) {
  return std::unique_ptr<EchoServer>(new EpollServer(host, port));
}

}  // namespace echo
