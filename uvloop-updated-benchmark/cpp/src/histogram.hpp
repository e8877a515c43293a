// An HDR-style latency histogram: log-linear buckets, constant relative error.
//
// Values are nanoseconds. Values below 2^kSubBits are counted exactly; above,
// each power of two is split into 2^(kSubBits-1) linear buckets, so any value
// is recorded with a relative error below 2^-(kSubBits-1) (0.1 %): far below
// a microsecond for every latency a loopback echo can have. Recording is one
// bit_width, a shift and an increment; no allocation after construction.
#pragma once

#include <cstdint>
#include <vector>

namespace echo {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 11;

  Histogram();

  void record(std::int64_t value_ns) noexcept;
  void merge(const Histogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::int64_t min() const noexcept { return count_ ? min_ : 0; }
  [[nodiscard]] std::int64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;

  // The smallest recorded value v such that at least q (0..1] of all values are <= v,
  // reported as the upper edge of v's bucket (clamped to max()), like HdrHistogram.
  [[nodiscard]] std::int64_t quantile(double q) const noexcept;

  // How many recorded values are above v, counting whole buckets: those whose every value
  // is above v (so a value within 0.1 % of v may be left out).
  [[nodiscard]] std::uint64_t count_above(std::int64_t v) const noexcept;

  // Bucket arithmetic, exposed for tests.
  [[nodiscard]] static std::size_t index_of(std::uint64_t value) noexcept;
  [[nodiscard]] static std::uint64_t lower_bound(std::size_t index) noexcept;
  [[nodiscard]] static std::uint64_t upper_bound(std::size_t index) noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace echo
