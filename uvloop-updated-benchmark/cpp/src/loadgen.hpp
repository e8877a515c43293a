// echoload's engine: drives an echo server over TCP and verifies every byte.
//
// Each connection carries a stream of fixed-size requests. Request k's payload
// is a window into one shared pattern, shifted by k % 251, so a misplaced,
// dropped or duplicated byte is caught by a memcmp against the same window.
//
// closed loop (rate == 0): each connection keeps `depth` requests in flight;
//   latency = response complete - request issued.
// open loop (rate > 0): request k of a connection is due at t0 + phase + k/r;
//   it is issued when due whatever the server's state, and its latency is
//   measured from that intended time, so a stalled server shows up as latency
//   (no coordinated omission).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "histogram.hpp"

namespace echo {

struct LoadConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int connections = 1;
  int threads = 1;
  std::size_t size = 1000;     // bytes per request (and per response)
  int depth = 1;               // requests in flight per connection (closed loop)
  double warmup_s = 1.0;       // not measured
  double duration_s = 5.0;     // measured
  double rate = 0.0;           // total requests/s over all connections; 0 = closed loop
  std::uint64_t requests = 0;  // >0: each connection completes exactly this many, then stops
                               // (no warm-up; the whole run is measured)
};

// Checks ranges and consistency; returns "" or a message naming the bad option.
[[nodiscard]] std::string validate(const LoadConfig& cfg);

struct LoadResult {
  std::uint64_t requests = 0;  // completed inside the measured window
  std::uint64_t bytes = 0;     // echoed payload bytes inside the window (one direction)
  double seconds = 0;          // length of the measured window
  double cpu_user_s = 0;       // echoload's own CPU time during the window
  double cpu_sys_s = 0;
  std::uint64_t issued_late = 0;  // open loop: requests still queued when the window closed
  Histogram latency;              // ns, one entry per completed request in the window

  [[nodiscard]] double req_per_s() const {
    return seconds > 0 ? static_cast<double>(requests) / seconds : 0;
  }
  [[nodiscard]] double mb_per_s() const {
    return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0;
  }
  // Cores echoload kept busy: 1.0 = one core fully used.
  [[nodiscard]] double cpu_cores() const {
    return seconds > 0 ? (cpu_user_s + cpu_sys_s) / seconds : 0;
  }
};

// What went wrong, for the message and the exit status.
class LoadError : public std::runtime_error {
 public:
  enum class Kind { Connect, Reset, Closed, Mismatch, Io };
  LoadError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// Runs the load; throws LoadError (or std::invalid_argument for a bad config).
LoadResult run_load(const LoadConfig& cfg);

// The JSON document echoload prints with --json.
[[nodiscard]] std::string to_json(const LoadConfig& cfg, const LoadResult& r);

}  // namespace echo
