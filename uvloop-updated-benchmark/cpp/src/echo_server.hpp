// Single-threaded TCP echo servers: the ceiling one core reaches.
//
// Both listen on construction (port 0 picks a free one), serve every
// connection from one thread in run(), and return from run() soon after
// stop() (thread- and async-signal-safe: it writes an eventfd).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net.hpp"

namespace echo {

class EchoServer {
 public:
  virtual ~EchoServer() = default;
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  virtual void run() = 0;
  void stop() noexcept;
  // Connections accepted so far (read after run() returned).
  [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_; }

 protected:
  EchoServer(const std::string& host, std::uint16_t port);
  Fd listener_;
  Fd stop_fd_;  // eventfd
  std::uint16_t port_ = 0;
  std::uint64_t accepted_ = 0;
};

// epoll, level-triggered; a connection whose echo cannot be written in full
// stops being read until the rest is written (back-pressure, bounded memory).
// busy_poll: while a connection is open, epoll_wait never blocks (timeout 0), so the thread
// spins on its core and a request never waits for the thread to be woken: a diagnostic for
// latency-bound loads, where it separates the cost of waking a sleeping server from the cost
// of serving. With no connection open it sleeps like the plain server.
std::unique_ptr<EchoServer> make_epoll_server(const std::string& host, std::uint16_t port,
                                              bool busy_poll = false);

// The same epoll loop answering HTTP/1.1 keep-alive "GET /<size>" requests (see http.hpp):
// the ceiling for echoload --mode http. A malformed request gets a 400 and the connection
// is closed.
std::unique_ptr<EchoServer> make_epoll_http_server(const std::string& host, std::uint16_t port);

// io_uring (liburing): a multishot accept, a multishot receive per connection into provided
// buffers, sends straight from them, every wake-up's sends in one io_uring_enter; like the
// epoll server, a connection stops being received from while its echoes cannot be written.
// Throws std::runtime_error if the kernel refuses io_uring (needs Linux >= 5.19).
std::unique_ptr<EchoServer> make_uring_server(const std::string& host, std::uint16_t port);

}  // namespace echo
