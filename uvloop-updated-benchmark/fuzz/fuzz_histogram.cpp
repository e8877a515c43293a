// libFuzzer target over the latency histogram: any sequence of recorded values (and merges)
// keeps count, min, max and quantiles consistent, and every quantile is within the promised
// relative error of a value that was recorded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "histogram.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  echo::Histogram h, other;
  std::vector<std::int64_t> seen;
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    std::uint64_t raw = 0;
    std::memcpy(&raw, data + i, 8);
    // Latencies are non-negative and below a day: map the bits there.
    const auto v = static_cast<std::int64_t>(raw % 86'400'000'000'000ULL);
    ((raw >> 63) ? other : h).record(v);
    seen.push_back(v);
  }
  h.merge(other);
  if (h.count() != seen.size()) __builtin_trap();
  if (seen.empty()) return 0;
  std::sort(seen.begin(), seen.end());
  if (h.min() != seen.front() || h.max() != seen.back()) __builtin_trap();
  std::int64_t last = 0;
  for (double q : {0.0001, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const std::int64_t got = h.quantile(q);
    if (got < last || got < h.min() || got > h.max()) __builtin_trap();
    last = got;
    // The exact q-quantile of what was recorded; the histogram reports its bucket's upper edge.
    const auto rank = static_cast<std::size_t>(
        std::max<double>(1.0, static_cast<double>(seen.size()) * q + 0.999999) - 1);
    const std::int64_t exact = seen[std::min(rank, seen.size() - 1)];
    const double tolerance = static_cast<double>(exact) / 1024.0 + 1.0;
    if (static_cast<double>(got - exact) > tolerance || got < exact) __builtin_trap();
  }
  return 0;
}
