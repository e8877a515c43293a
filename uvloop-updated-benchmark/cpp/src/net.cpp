#include "net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <ostream>
#include <stdexcept>

namespace echo {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string sys_error(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return msg;
}

void throw_sys(std::string_view what) {
  throw std::runtime_error(sys_error(what, errno));
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_sys("fcntl(O_NONBLOCK)");
}

void set_nodelay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
    throw_sys("setsockopt(TCP_NODELAY)");
  }
}

std::string Address::text() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
    return "[" + std::string(buf) + "]:" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
  ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  port = ntohs(a->sin_port);
  return std::string(buf) + ":" + std::to_string(port);
}

namespace {

std::vector<Address> resolve_with(const std::string& host, std::uint16_t port, int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    throw std::runtime_error("cannot resolve host '" + host + "': " + ::gai_strerror(rc));
  }
  std::vector<Address> out;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    out.push_back(a);
  }
  ::freeaddrinfo(res);
  if (out.empty()) throw std::runtime_error("host '" + host + "' has no IPv4 or IPv6 address");
  return out;
}

std::string connect_failure(const Address& addr, int err) {
  std::string msg = "cannot connect to " + addr.text();
  if (err == ECONNREFUSED) msg += " (nothing listens there: is the server running?)";
  return sys_error(msg, err);
}

// Starts a non-blocking connect; returns 0 (connected), EINPROGRESS or the error.
int start_connect(const Address& addr, Fd& fd) {
  fd.reset(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw_sys("socket");
  if (::connect(fd.get(), addr.get(), addr.len) == 0) return 0;
  return errno;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

std::string seconds_text(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace

std::vector<Address> resolve(const std::string& host, std::uint16_t port) {
  return resolve_with(host, port, AI_ADDRCONFIG);
}

Fd listen_tcp(const std::string& host, std::uint16_t port, int backlog) {
  const Address addr = resolve_with(host, port, AI_PASSIVE).front();
  Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw_sys("socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), addr.get(), addr.len) < 0) {
    throw_sys("bind " + host + ":" + std::to_string(port));
  }
  if (::listen(fd.get(), backlog) < 0) throw_sys("listen");
  return fd;
}

std::uint16_t local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) throw_sys("getsockname");
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

Fd connect_tcp(const std::string& host, std::uint16_t port) {
  std::string last;
  for (const Address& addr : resolve(host, port)) {
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) throw_sys("socket");
    if (::connect(fd.get(), addr.get(), addr.len) == 0) {
      set_nodelay(fd.get());
      return fd;
    }
    last = connect_failure(addr, errno);
  }
  throw std::runtime_error(last);
}

std::vector<Fd> connect_many(const std::string& host, std::uint16_t port, int count,
                             double timeout_s, std::ostream* progress) {
  const std::vector<Address> addrs = resolve(host, port);
  const std::int64_t start = now_ns();
  const std::int64_t deadline = start + static_cast<std::int64_t>(timeout_s * 1e9);
  const auto n = static_cast<std::size_t>(count);
  std::vector<Fd> fds(n);
  std::vector<bool> established(n, false);
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) throw_sys("epoll_create1");
  std::size_t done = 0;
  std::int64_t next_report = start + 1'000'000'000;
  bool reported = false;

  const auto timed_out = [&](std::size_t waiting, const Address& addr) {
    std::string msg = "connect timed out after " + seconds_text(now_ns() - start) + ": " +
                      std::to_string(done) + " of " + std::to_string(count) + " connections to " +
                      addr.text() + " established (connection " + std::to_string(waiting) +
                      " still waiting: is the server accepting? a full listen backlog drops "
                      "new connections)";
    return std::runtime_error(msg);
  };
  // Waits for the connects registered in `ep`; returns when `want` of them have finished.
  std::array<epoll_event, 1024> events{};
  const auto wait_for = [&](std::size_t want, const Address& addr) {
    while (done < want) {
      const std::int64_t now = now_ns();
      if (now >= next_report) {
        if (progress != nullptr) {
          *progress << "echoload: connecting: " << done << " of " << count
                    << " connections established after " << seconds_text(now - start) << std::endl;
        }
        reported = true;
        next_report += 1'000'000'000;
      }
      if (now >= deadline) {
        const auto waiting = static_cast<std::size_t>(
            std::find(established.begin(), established.end(), false) - established.begin());
        throw timed_out(waiting, addr);
      }
      const std::int64_t wait = std::min(deadline, next_report) - now;
      timespec ts{wait / 1'000'000'000, wait % 1'000'000'000};
      const int got =
          ::epoll_pwait2(ep.get(), events.data(), static_cast<int>(events.size()), &ts, nullptr);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw_sys("epoll_pwait2");
      }
      for (int k = 0; k < got; ++k) {
        const auto i = static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64);
        const int fd = fds[i].get();
        if (const int err = socket_error(fd); err != 0) {
          throw std::runtime_error("connection " + std::to_string(i) + ": " +
                                   connect_failure(addr, err));
        }
        if (::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr) < 0) throw_sys("epoll_ctl");
        set_nodelay(fd);
        established[i] = true;
        ++done;
      }
    }
  };
  const auto launch = [&](std::size_t i, const Address& addr) {
    const int rc = start_connect(addr, fds[i]);
    if (rc == 0) {
      set_nodelay(fds[i].get());
      established[i] = true;
      ++done;
      return;
    }
    if (rc != EINPROGRESS) {
      throw std::runtime_error("connection " + std::to_string(i) + ": " +
                               connect_failure(addr, rc));
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = i;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fds[i].get(), &ev) < 0) throw_sys("epoll_ctl");
  };

  // Connection 0 finds the address that works ("localhost" may give ::1 before 127.0.0.1).
  const Address* chosen = nullptr;
  std::string first_error;
  for (const Address& addr : addrs) {
    try {
      launch(0, addr);
      wait_for(1, addr);
      chosen = &addr;
      break;
    } catch (const std::runtime_error& e) {
      if (now_ns() >= deadline) throw;
      if (first_error.empty()) first_error = e.what();
      fds[0].reset();
    }
  }
  if (chosen == nullptr) throw std::runtime_error(first_error);
  for (std::size_t i = 1; i < n; ++i) launch(i, *chosen);
  wait_for(n, *chosen);
  if (reported && progress != nullptr) {
    *progress << "echoload: " << count << " connections established in "
              << seconds_text(now_ns() - start) << std::endl;
  }
  return fds;
}

std::int64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace echo
