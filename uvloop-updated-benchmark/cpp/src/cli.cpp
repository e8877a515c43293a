#include "cli.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace echo {

const std::string_view kHelp = R"(usage: echoload --port PORT [options]

Drives a TCP echo server (or, --mode http, an HTTP/1.1 server) with fixed-size requests
and verifies every byte that comes back.

  --host HOST        server name or IPv4/IPv6 address (default 127.0.0.1; localhost, ::1)
  --port PORT        server TCP port (required)
  -c, --connections N  connections (default 1)
  -t, --threads N    threads the connections are spread over (default 1)
  -s, --size BYTES   request size; each response must be the same bytes (default 1000)
  -d, --depth N      requests in flight per connection, closed loop (default 1 = ping-pong)
  --warmup SECONDS   run before measuring, not counted (default 1)
  --duration SECONDS measured time (default 5)
  --rate R           open loop: R requests/s in total, each due at a fixed time; latency
                     is measured from that intended time (default 0 = closed loop)
  --requests N       each connection completes exactly N requests, all measured, then stops
                     (no warm-up, no duration; for tests and cross-checks)
  --mode echo|http   echo: the server echoes each request (default); http: each request is
                     "GET /SIZE HTTP/1.1" on a keep-alive connection and the response must be
                     status 200 with Content-Length SIZE and SIZE body bytes, byte i being
                     'a' + i % 26 (abcd...zabc...); pipelined up to --depth
  --path PATH        http: request PATH instead (any server's page; needs --body-file)
  --body-file FILE   http: every response must be status 200 carrying exactly FILE's bytes
                     (its size replaces --size)
  --connect-timeout SECONDS  all connections (opened in parallel) must be established
                     within this (default 5); progress on stderr after 1 s
  --stall-timeout SECONDS  a connection with a request outstanding and none completed for
                     this long fails the run, named (default 3)
  --io uring|epoll   how each thread multiplexes its connections (default uring): uring, one
                     io_uring per thread, multishot receives into provided buffers, every
                     send of a wake-up submitted together, one syscall per loop iteration;
                     epoll, epoll_pwait2 then read/writev per ready connection
  --server-pid PID   also measure the server process's CPU time and run-queue wait over
                     exactly the measured window (all its threads, from /proc schedstat)
  --json             print one JSON object instead of text
  -h, --help         this help

Output: requests/s, MB/s (payload, one direction), latency p50/p90/p99/p99.9/max in
microseconds (HDR-style histogram, 0.1 % relative precision), echoload's own CPU use and
per thread CPU and run-queue wait, the longest gap between completions and how many gaps
were stalls (> 100 x p50 and > 10 ms), open loop: requests unanswered when the window closed
(entered in the latency histogram at their age then).
Exit status: 0 ok; 1 the server failed (refused, connect timeout, reset, closed, wrong bytes,
malformed HTTP, no progress for --stall-timeout, no request completed); 2 bad usage.
)";

namespace {

// The page every response must carry (--body-file): a regular file of 1 byte .. 64 MiB.
std::vector<unsigned char> read_body_file(std::string_view name) {
  const std::string path(name);
  const auto said = [&](std::string_view why) {
    return UsageError("--body-file: '" + path + "' " + std::string(why));
  };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw said("is not a readable file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size == 0 || size > (64u << 20)) throw said("must hold 1 byte .. 64 MiB");
  std::vector<unsigned char> body(static_cast<std::size_t>(size));
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(body.data()), static_cast<std::streamsize>(body.size()));
  if (!in || in.gcount() != static_cast<std::streamsize>(body.size())) {
    throw said("could not be read whole");
  }
  return body;
}

double parse_double(std::string_view opt, std::string_view text) {
  const std::string s(text);  // strtod needs a terminated string
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) {
    throw UsageError(std::string(opt) + ": not a number: " + s);
  }
  return v;
}

long long parse_int(std::string_view opt, std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0) {
    throw UsageError(std::string(opt) + ": not an integer: " + s);
  }
  return v;
}

long long in_range(std::string_view opt, std::string_view text, long long lo, long long hi,
                   const char* what) {
  const long long n = parse_int(opt, text);
  if (n < lo || n > hi) throw UsageError(std::string(opt) + " must be " + what);
  return n;
}

}  // namespace

Options parse_args(std::span<const std::string_view> args) {
  Options o;
  LoadConfig& cfg = o.load;
  bool sized = false, body_file = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    } else if (a == "--host") {
      cfg.host = std::string(value());
    } else if (a == "--port") {
      cfg.port = static_cast<std::uint16_t>(in_range(a, value(), 1, 65535, "1..65535"));
    } else if (a == "-c" || a == "--connections") {
      cfg.connections = static_cast<int>(in_range(a, value(), 1, 100000, "1..100000"));
    } else if (a == "-t" || a == "--threads") {
      cfg.threads = static_cast<int>(in_range(a, value(), 1, 1024, "1..1024"));
    } else if (a == "-s" || a == "--size") {
      cfg.size = static_cast<std::size_t>(in_range(a, value(), 1, 64LL << 20, "1..67108864"));
      sized = true;
    } else if (a == "-d" || a == "--depth") {
      cfg.depth = static_cast<int>(in_range(a, value(), 1, 4096, "1..4096"));
    } else if (a == "--warmup") {
      cfg.warmup_s = parse_double(a, value());
    } else if (a == "--duration") {
      cfg.duration_s = parse_double(a, value());
    } else if (a == "--rate") {
      cfg.rate = parse_double(a, value());
    } else if (a == "--requests") {
      cfg.requests = static_cast<std::uint64_t>(
          in_range(a, value(), 1, 1'000'000'000'000LL, "1..1000000000000"));
    } else if (a == "--mode") {
      const std::string_view m = value();
      if (m == "echo") {
        cfg.protocol = Protocol::Echo;
      } else if (m == "http") {
        cfg.protocol = Protocol::Http;
      } else {
        throw UsageError("--mode must be echo or http, not '" + std::string(m) + "'");
      }
    } else if (a == "--io") {
      const std::string_view m = value();
      if (m == "uring") {
        cfg.io = IoBackend::Uring;
      } else if (m == "epoll") {
        cfg.io = IoBackend::Epoll;
      } else {
        throw UsageError("--io must be uring or epoll, not '" + std::string(m) + "'");
      }
    } else if (a == "--connect-timeout") {
      cfg.connect_timeout_s = parse_double(a, value());
    } else if (a == "--server-pid") {
      const long long pid = parse_int(a, value());
      if (pid <= 0 || pid > 4194304) throw UsageError("--server-pid: not a process id");
      cfg.server_pid = static_cast<int>(pid);
    } else if (a == "--stall-timeout") {
      cfg.stall_timeout_s = parse_double(a, value());
    } else if (a == "--path") {
      cfg.path = std::string(value());
    } else if (a == "--body-file") {
      cfg.body = read_body_file(value());
      cfg.size = cfg.body.size();
      body_file = true;
    } else if (a == "--json") {
      o.json = true;
    } else {
      throw UsageError("unknown option '" + std::string(a) + "'");
    }
  }
  if (body_file && sized) throw UsageError("--size and --body-file: the file gives the size");
  if (std::string bad = validate(cfg); !bad.empty()) throw UsageError(bad);
  return o;
}

}  // namespace echo
