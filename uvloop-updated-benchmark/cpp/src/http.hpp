// The HTTP/1.1 keep-alive workload: echoload --mode http and echoserver --protocol http.
//
// Request (one per response, pipelined up to --depth):
//   "GET /<size> HTTP/1.1\r\nHost: <host>:<port>\r\n\r\n"
// or, with echoload --path and --body-file, "GET <path> ..." answered by any server with a
// fixed page: the response must then carry exactly the file's bytes.
// Response: status 200, a Content-Length header equal to <size>, and a body of exactly <size>
// bytes where byte i is 'a' + i % 26 ("abcdefghijklmnopqrstuvwxyzabcd..."). In Python:
//   (b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
// Anything else is an error for echoload: another status, a missing or different
// Content-Length, Transfer-Encoding (chunked), "Connection: close", a header longer than
// 8 KiB, a wrong body byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace echo::http {

constexpr std::size_t kMaxHead = 8192;  // request or response head, bytes, "\r\n\r\n" included
constexpr std::uint64_t kMaxBody = 64ULL << 20;

[[nodiscard]] constexpr unsigned char body_byte(std::uint64_t i) noexcept {
  return static_cast<unsigned char>('a' + i % 26);
}

// "GET /<size> HTTP/1.1\r\nHost: <host>\r\n\r\n"; host_port as it goes into Host.
[[nodiscard]] std::string request(std::uint64_t size, std::string_view host_port);

// "GET <target> HTTP/1.1\r\nHost: <host>\r\n\r\n" (echoload --path: any server's page).
[[nodiscard]] std::string request(std::string_view target, std::string_view host_port);

// "" if `target` can go into a request line as it is (starts with '/', printable ASCII, no
// space), else why not.
[[nodiscard]] std::string bad_target(std::string_view target);

// What went wrong with a response; wrong_body distinguishes a bad byte in an otherwise
// well-formed response from a malformed one.
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, bool wrong_body)
      : std::runtime_error(what), wrong_body_(wrong_body) {}
  [[nodiscard]] bool wrong_body() const noexcept { return wrong_body_; }

 private:
  bool wrong_body_;
};

// Checks one response head (status line and headers, up to and including "\r\n\r\n"):
// HTTP/1.1 200, Content-Length == body_size, no Transfer-Encoding, no Connection: close.
// Throws Error naming what was wrong.
void check_response_head(std::string_view head, std::uint64_t body_size);

// Reads a stream of responses to identical requests, verifying each one. Keeps a partial
// head only when one spans reads (no allocation otherwise).
class ResponseReader {
 public:
  // expected: the body every response must carry (body_size bytes, not owned).
  ResponseReader(const unsigned char* expected, std::uint64_t body_size) noexcept
      : expected_(expected), size_(body_size) {}

  // Consumes n bytes; returns how many responses they completed. Throws Error.
  std::uint64_t feed(const unsigned char* p, std::size_t n);

  // True between responses (nothing partial buffered).
  [[nodiscard]] bool idle() const noexcept { return !in_body_ && head_.empty(); }

 private:
  const unsigned char* expected_;
  std::uint64_t size_;
  bool in_body_ = false;
  std::uint64_t body_off_ = 0;
  std::string head_;  // a head split across reads
};

// Server side: parses one request at the front of `buf`.
struct Parsed {
  enum class Status { Incomplete, Ok, Bad } status = Status::Incomplete;
  std::size_t consumed = 0;  // Ok: bytes of this request
  std::uint64_t size = 0;    // Ok: the body size asked for
  std::string_view reason;   // Bad: why
};
[[nodiscard]] Parsed parse_request(std::string_view buf) noexcept;

// Appends the response to "GET /<size>" (head and body) to out.
void append_response(std::string& out, std::uint64_t size);

// "HTTP/1.1 400 Bad Request" with no body, and Connection: close.
[[nodiscard]] std::string_view bad_request() noexcept;

}  // namespace echo::http
