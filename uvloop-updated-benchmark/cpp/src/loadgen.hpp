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
//   (no coordinated omission). Requests still unanswered when the window closes
//   are counted (unfinished) and entered in the histogram at their age then.
// http mode: the same loops over HTTP/1.1 keep-alive GETs (see http.hpp).
//
// Nothing wrong looks like success: connects have a timeout, a connection with a
// request outstanding and no completion for stall_timeout_s fails the run naming
// it, and a run that completes no request in its window fails. Shorter stalls are
// reported: the longest time a thread had requests outstanding and none
// completed (max gap), and how many such gaps exceeded max(100 x p50, 10 ms).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "histogram.hpp"

namespace echo {

enum class Protocol { Echo, Http };
enum class IoBackend { Uring, Epoll };

[[nodiscard]] const char* io_name(IoBackend io) noexcept;  // "uring", "epoll"

// "" when this kernel offers what the uring backend needs (io_uring with provided buffer
// rings, Linux 5.19+), else why not.
[[nodiscard]] std::string uring_unavailable();

struct LoadConfig {
  std::string host = "127.0.0.1";  // a name or an IPv4/IPv6 literal (getaddrinfo)
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
  Protocol protocol = Protocol::Echo;
  double connect_timeout_s = 5.0;  // all connections established within this, or fail
  int server_pid = 0;  // >0: also measure this process's CPU and run-queue wait in the window
  double stall_timeout_s = 3.0;     // a connection with work outstanding and no completion
                                    // for this long fails the run
  IoBackend io = IoBackend::Uring;  // how worker threads multiplex their connections
  // http only: the request target ("" = "/<size>", the C++ server's workload) and the exact
  // body every response must carry ("" = the alphabet pattern; else size == body.size()).
  std::string path;
  std::vector<unsigned char> body;
};

// A completion gap above this is flagged as a stall: max(100 x median latency, 10 ms).
[[nodiscard]] std::int64_t stall_threshold_ns(std::int64_t median_ns) noexcept;

// Checks ranges and consistency; returns "" or a message naming the bad option.
[[nodiscard]] std::string validate(const LoadConfig& cfg);

// One worker thread over the measured window.
struct ThreadStats {
  int connections = 0;
  std::uint64_t requests = 0;   // completed in the window
  double cpu_s = 0;             // CLOCK_THREAD_CPUTIME_ID
  double runqueue_wait_s = -1;  // /proc/self/task/<tid>/schedstat field 2; -1: unavailable
  std::int64_t max_gap_ns = 0;  // longest time with requests outstanding and none completed
};

// CPU time and run-queue wait of a whole process (every thread), from /proc/<pid>/task/*/schedstat.
struct ProcessClock {
  double cpu_s = 0;
  double runq_s = 0;
  // Nullopt when the process (or its /proc entry) is gone.
  [[nodiscard]] static std::optional<ProcessClock> take(int pid);
};

struct LoadResult {
  std::uint64_t requests = 0;  // completed inside the measured window
  std::uint64_t bytes = 0;     // echoed payload bytes inside the window (one direction)
  double seconds = 0;          // length of the measured window
  // The measured window on CLOCK_MONOTONIC (ns), so other tools' timestamps can be matched to
  // it (perf record -k monotonic: the server's samples inside the window).
  std::int64_t window_from_ns = 0;
  std::int64_t window_to_ns = 0;
  double cpu_user_s = 0;  // echoload's own CPU time during the window
  double cpu_sys_s = 0;
  std::uint64_t unfinished = 0;  // open loop: requests due but unanswered when the window closed
  Histogram latency;     // ns, one entry per completed request in the window (+ each unfinished
                         // one at its age when the window closed)
  double connect_s = 0;  // time to establish all connections
  std::optional<ProcessClock> server;  // --server-pid: the server's clocks over the window
  std::int64_t max_gap_ns = 0;         // the longest gap over all threads (see ThreadStats)
  std::int64_t stall_threshold_ns = 0;
  std::uint64_t stalls = 0;  // gaps longer than stall_threshold_ns
  std::vector<ThreadStats> threads;

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
  // Stall: no progress for stall_timeout_s, or no request completed at all.
  // Protocol: a malformed HTTP response.
  enum class Kind { Connect, Reset, Closed, Mismatch, Io, Stall, Protocol };
  LoadError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// Runs the load; throws LoadError (or std::invalid_argument for a bad config). Connection
// progress goes to `progress` when connecting takes more than a second.
LoadResult run_load(const LoadConfig& cfg, std::ostream* progress = nullptr);

// The JSON document echoload prints with --json.
[[nodiscard]] std::string to_json(const LoadConfig& cfg, const LoadResult& r);

}  // namespace echo
