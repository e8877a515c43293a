// Small RAII and socket helpers shared by echoload and the reference servers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

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

// A listening TCP socket on host:port (port 0 picks a free one), non-blocking.
Fd listen_tcp(const std::string& host, std::uint16_t port, int backlog = 1024);
std::uint16_t local_port(int fd);

// Blocking connect to host:port, then TCP_NODELAY. Throws with a clear message.
Fd connect_tcp(const std::string& host, std::uint16_t port);

// Monotonic clock in nanoseconds.
[[nodiscard]] std::int64_t now_ns() noexcept;

}  // namespace echo
