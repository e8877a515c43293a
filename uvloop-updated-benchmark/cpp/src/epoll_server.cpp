#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <unordered_map>
#include <vector>

#include "echo_server.hpp"
#include "http.hpp"

namespace echo {
namespace {

constexpr std::size_t kBuf = 64 * 1024;

class EpollServer final : public EchoServer {
 public:
  EpollServer(const std::string& host, std::uint16_t port, bool http, bool busy_poll)
      : EchoServer(host, port), http_(http), busy_poll_(busy_poll) {}

  void run() override {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_.valid()) throw_sys("epoll_create1");
    watch(listener_.get(), EPOLLIN, EPOLL_CTL_ADD);
    watch(stop_fd_.get(), EPOLLIN, EPOLL_CTL_ADD);
    std::array<epoll_event, 256> events{};
    for (;;) {
      // Busy polling spins only while a connection is open: an idle server sleeps, so it
      // never takes a core from servers measured beside it (a benchmark keeps them all alive).
      const int timeout = busy_poll_ && !conns_.empty() ? 0 : -1;
      const int n =
          ::epoll_wait(ep_.get(), events.data(), static_cast<int>(events.size()), timeout);
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
          const bool open =
              http_ ? serve_http(fd, it->second, ev.events) : serve(fd, it->second, ev.events);
          if (!open) conns_.erase(it);
        }
      }
    }
  }

 private:
  struct Conn {
    Fd fd;
    std::vector<char> pending;  // bytes read but not yet written back
    std::size_t off = 0;
    // http: request bytes not yet parsed; responses not yet written (from out_off).
    std::string in, out;
    std::size_t out_off = 0;
    bool close_after = false;  // a bad request was answered with 400: close once it is out
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
      Conn c;
      c.fd = Fd(fd);
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

  // HTTP/1.1 keep-alive (http.hpp): answers every complete "GET /<size>" with status 200 and
  // <size> body bytes; pipelined requests are answered in order. Like the echo, stops reading
  // while a response cannot be written in full. Returns false when the connection is finished.
  bool serve_http(int fd, Conn& c, std::uint32_t events) {
    if (c.out_off < c.out.size()) {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return true;
      if (!write_out(c)) return false;
      if (c.out_off < c.out.size()) return true;
      if (c.close_after) return false;
      watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    }
    for (int rounds = 0; rounds < 16; ++rounds) {
      const ssize_t r = ::read(fd, buf_.data(), buf_.size());
      if (r == 0) return false;
      if (r < 0) return errno == EAGAIN || errno == EINTR;
      c.in.append(buf_.data(), static_cast<std::size_t>(r));
      std::size_t pos = 0;
      for (;;) {
        const http::Parsed req = http::parse_request(std::string_view(c.in).substr(pos));
        if (req.status == http::Parsed::Status::Incomplete) break;
        if (req.status == http::Parsed::Status::Bad) {
          c.out += http::bad_request();
          c.close_after = true;
          break;
        }
        http::append_response(c.out, req.size);
        pos += req.consumed;
      }
      c.in.erase(0, pos);
      if (!write_out(c)) return false;
      if (c.out_off < c.out.size()) {
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);  // stop reading until this is out
        return true;
      }
      if (c.close_after) return false;
      if (static_cast<std::size_t>(r) < buf_.size()) return true;
    }
    return true;
  }

  // Writes c.out from out_off; false on a connection error.
  static bool write_out(Conn& c) {
    while (c.out_off < c.out.size()) {
      const ssize_t w =
          ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN;
      }
      c.out_off += static_cast<std::size_t>(w);
    }
    c.out.clear();  // keeps its capacity for the next responses
    c.out_off = 0;
    return true;
  }

  bool http_;
  bool busy_poll_;
  Fd ep_;
  std::unordered_map<int, Conn> conns_;
  std::array<char, kBuf> buf_{};
};

}  // namespace

std::unique_ptr<EchoServer> make_epoll_server(const std::string& host, std::uint16_t port,
                                              bool busy_poll) {
  return std::unique_ptr<EchoServer>(new EpollServer(host, port, false, busy_poll));
}

std::unique_ptr<EchoServer> make_epoll_http_server(const std::string& host, std::uint16_t port) {
  return std::unique_ptr<EchoServer>(new EpollServer(host, port, true, false));
}

}  // namespace echo
