// echoload: a load generator for TCP echo servers. See --help.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "loadgen.hpp"

namespace {

void print_text(const echo::LoadConfig& cfg, const echo::LoadResult& r) {
  const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1e3; };
  const bool http = cfg.protocol == echo::Protocol::Http;
  std::printf("%llu requests in %.2f s: %.0f req/s, %.2f MB/s, %s\n",
              static_cast<unsigned long long>(r.requests), r.seconds, r.req_per_s(), r.mb_per_s(),
              http ? "all responses verified" : "all bytes verified");
  std::printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
              us(r.latency.quantile(0.5)), us(r.latency.quantile(0.9)),
              us(r.latency.quantile(0.99)), us(r.latency.quantile(0.999)), us(r.latency.max()));
  if (cfg.rate > 0) {
    std::printf("unfinished at end of window: %llu request(s)%s\n",
                static_cast<unsigned long long>(r.unfinished),
                r.unfinished ? " (timeouts: in the latency figures at their age)" : "");
  }
  std::printf("longest gap between completions: %.1f ms; stalls (gaps > %.1f ms): %llu%s\n",
              us(r.max_gap_ns) / 1e3, us(r.stall_threshold_ns) / 1e3,
              static_cast<unsigned long long>(r.stalls),
              r.stalls ? "  << STALLED: the server stopped answering for a while" : "");
  std::printf("echoload CPU: %.2f cores (user %.2f s, sys %.2f s)\n", r.cpu_cores(), r.cpu_user_s,
              r.cpu_sys_s);
  for (std::size_t i = 0; i < r.threads.size(); ++i) {
    const echo::ThreadStats& t = r.threads[i];
    std::printf("  thread %zu: %d connections, %llu requests, CPU %.3f s, run-queue wait ", i,
                t.connections, static_cast<unsigned long long>(t.requests), t.cpu_s);
    if (t.runqueue_wait_s >= 0) {
      std::printf("%.3f s\n", t.runqueue_wait_s);
    } else {
      std::printf("unknown\n");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string_view> args(argv + 1, argv + argc);
  echo::Options opts;
  try {
    opts = echo::parse_args(args);
  } catch (const echo::UsageError& e) {
    std::cerr << "echoload: " << e.what() << "\n(try echoload --help)\n";
    return 2;
  }
  if (opts.help) {
    std::cout << echo::kHelp;
    return 0;
  }
  const echo::LoadConfig& cfg = opts.load;
  const bool json = opts.json;
  try {
    const echo::LoadResult r = echo::run_load(cfg, &std::cerr);
    if (json) {
      std::cout << echo::to_json(cfg, r) << std::endl;
    } else {
      print_text(cfg, r);
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
