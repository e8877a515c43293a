// libFuzzer target over echoload's command line: NUL-separated arguments. parse_args either
// returns a configuration that validate() accepts (or --help) or throws UsageError; it never
// crashes, never throws anything else, never returns a configuration run_load would refuse
// and never one without a stall and a connect timeout.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cli.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> args;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == '\0') {
      args.push_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  try {
    const echo::Options o = echo::parse_args(args);
    if (!o.help && !echo::validate(o.load).empty()) __builtin_trap();
    // The failure timeouts can never be switched off or be NaN: every run ends.
    if (!o.help && !(o.load.stall_timeout_s > 0 && o.load.connect_timeout_s > 0)) {
      __builtin_trap();
    }
  } catch (const echo::UsageError&) {
  }
  return 0;
}
