// echoload: a load generator for TCP echo servers. See --help.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "loadgen.hpp"

namespace {

constexpr std::string_view kHelp = R"(usage: echoload --port PORT [options]

Drives a TCP echo server with fixed-size requests and verifies every echoed byte.

  --host ADDR        server IPv4 address (default 127.0.0.1)
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
  --json             print one JSON object instead of text
  -h, --help         this help

Output: requests/s, MB/s (payload, one direction), latency p50/p90/p99/p99.9/max in
microseconds (HDR-style histogram, 0.1 % relative precision), echoload's own CPU use.
Exit status: 0 ok; 1 the server failed (refused, reset, closed, wrong bytes); 2 bad usage.
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "echoload: " << msg << "\n(try echoload --help)\n";
  std::exit(2);
}

double parse_double(std::string_view opt, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0') usage_error(std::string(opt) + ": not a number: " + text);
  return v;
}

long long parse_int(std::string_view opt, const char* text) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0) {
    usage_error(std::string(opt) + ": not an integer: " + text);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  echo::LoadConfig cfg;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kHelp;
      return 0;
    } else if (a == "--host") {
      cfg.host = value();
    } else if (a == "--port") {
      const long long p = parse_int(a, value());
      if (p < 1 || p > 65535) usage_error("--port must be 1..65535");
      cfg.port = static_cast<std::uint16_t>(p);
    } else if (a == "-c" || a == "--connections") {
      const long long n = parse_int(a, value());
      if (n < 1 || n > 100000) usage_error("--connections must be 1..100000");
      cfg.connections = static_cast<int>(n);
    } else if (a == "-t" || a == "--threads") {
      const long long n = parse_int(a, value());
      if (n < 1 || n > 1024) usage_error("--threads must be 1..1024");
      cfg.threads = static_cast<int>(n);
    } else if (a == "-s" || a == "--size") {
      const long long n = parse_int(a, value());
      if (n < 1) usage_error("--size must be at least 1");
      cfg.size = static_cast<std::size_t>(n);
    } else if (a == "-d" || a == "--depth") {
      const long long n = parse_int(a, value());
      if (n < 1 || n > 4096) usage_error("--depth must be 1..4096");
      cfg.depth = static_cast<int>(n);
    } else if (a == "--warmup") {
      cfg.warmup_s = parse_double(a, value());
    } else if (a == "--duration") {
      cfg.duration_s = parse_double(a, value());
    } else if (a == "--rate") {
      cfg.rate = parse_double(a, value());
    } else if (a == "--requests") {
      const long long n = parse_int(a, value());
      if (n < 1) usage_error("--requests must be at least 1");
      cfg.requests = static_cast<std::uint64_t>(n);
    } else if (a == "--json") {
      json = true;
    } else {
      usage_error("unknown option '" + std::string(a) + "'");
    }
  }
  if (const std::string bad = echo::validate(cfg); !bad.empty()) usage_error(bad);
  try {
    const echo::LoadResult r = echo::run_load(cfg);
    if (json) {
      std::cout << echo::to_json(cfg, r) << std::endl;
    } else {
      const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1e3; };
      std::printf(
          "%llu requests in %.2f s: %.0f req/s, %.2f MB/s, all bytes verified\n"
          "latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n"
          "echoload CPU: %.2f cores (user %.2f s, sys %.2f s)\n",
          static_cast<unsigned long long>(r.requests), r.seconds, r.req_per_s(), r.mb_per_s(),
          us(r.latency.quantile(0.5)), us(r.latency.quantile(0.9)), us(r.latency.quantile(0.99)),
          us(r.latency.quantile(0.999)), us(r.latency.max()), r.cpu_cores(), r.cpu_user_s,
          r.cpu_sys_s);
    }
  } catch (const echo::LoadError& e) {
    std::cerr << "echoload: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "echoload: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
