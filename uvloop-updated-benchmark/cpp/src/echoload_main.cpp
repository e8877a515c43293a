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
