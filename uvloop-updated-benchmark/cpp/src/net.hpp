// Small RAII and socket helpers shared by echoload and the reference servers.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace echo {

// Owns a file descriptor; closes it once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// errno as text, prefixed: "what: strerror".
[[nodiscard]] std::string sys_error(std::string_view what, int err);

// Throws std::runtime_error with sys_error(what, errno).
[[noreturn]] void throw_sys(std::string_view what);

void set_nonblocking(int fd);
void set_nodelay(int fd);

// One resolved socket address (IPv4 or IPv6).
struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  [[nodiscard]] const sockaddr* get() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  [[nodiscard]] int family() const noexcept { return storage.ss_family; }
  [[nodiscard]] std::string text() const;  // "127.0.0.1:80", "[::1]:80"
};

// getaddrinfo: host is a name ("localhost") or a literal ("127.0.0.1", "::1"). Throws
// std::runtime_error naming the host when it does not resolve.
std::vector<Address> resolve(const std::string& host, std::uint16_t port);

// A listening TCP socket on host:port (port 0 picks a free one), non-blocking.
Fd listen_tcp(const std::string& host, std::uint16_t port, int backlog = 1024);
std::uint16_t local_port(int fd);

// Blocking connect to host:port (its first address that accepts), then TCP_NODELAY. Throws
// with a clear message.
Fd connect_tcp(const std::string& host, std::uint16_t port);

// `count` connections to host:port, opened in parallel (non-blocking connect, one epoll), each
// non-blocking with TCP_NODELAY, in order (connection i is element i). The first
// connection tries each resolved address in turn; the others use the one that worked. When
// it takes longer than a second, progress lines go to `progress` (if not null) once a second.
// Throws std::runtime_error when a connection is refused or fails, or when not all are
// established within timeout_s (the message says how many were, and which one waited).
std::vector<Fd> connect_many(const std::string& host, std::uint16_t port, int count,
                             double timeout_s, std::ostream* progress);

// Monotonic clock in nanoseconds.
[[nodiscard]] std::int64_t now_ns() noexcept;

}  // namespace echo
