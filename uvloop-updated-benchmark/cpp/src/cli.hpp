// echoload's command line: parsed into a LoadConfig without touching the network, so that
// bad input can be tested and fuzzed on its own.
#pragma once

#include <span>
#include <stdexcept>
#include <string_view>

#include "loadgen.hpp"

namespace echo {

// Bad usage: the message names the option and what was wrong; echoload exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  LoadConfig load;
  bool json = false;
  bool help = false;  // --help was given: print kHelp, do nothing else
};

extern const std::string_view kHelp;

// `args` excludes the program name. Returns a validated configuration (see validate()) or, for
// --help, one with help set; throws UsageError for anything else.
Options parse_args(std::span<const std::string_view> args);

}  // namespace echo
