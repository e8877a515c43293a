#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace echo {
namespace {
constexpr std::uint64_t kExact = std::uint64_t{1} << Histogram::kSubBits;  // 2048
constexpr std::uint64_t kHalf = kExact / 2;                                // 1024 per octave
constexpr std::size_t kBuckets = kExact + (64 - Histogram::kSubBits) * kHalf;
}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

std::size_t Histogram::index_of(std::uint64_t value) noexcept {
  if (value < kExact) return static_cast<std::size_t>(value);
  const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - Histogram::kSubBits;
  const std::uint64_t sub = value >> shift;  // in [kHalf, kExact)
  return static_cast<std::size_t>(kExact + (shift - 1) * kHalf + (sub - kHalf));
}

std::uint64_t Histogram::lower_bound(std::size_t index) noexcept {
  if (index < kExact) return index;
  const std::size_t rel = index - kExact;
  const unsigned shift = static_cast<unsigned>(rel / kHalf) + 1;
  return (kHalf + rel % kHalf) << shift;
}

std::uint64_t Histogram::upper_bound(std::size_t index) noexcept {
  if (index < kExact) return index;
  const unsigned shift = static_cast<unsigned>((index - kExact) / kHalf) + 1;
  return lower_bound(index) + ((std::uint64_t{1} << shift) - 1);
}

void Histogram::record(std::int64_t value_ns) noexcept {
  const std::uint64_t v = value_ns < 0 ? 0 : static_cast<std::uint64_t>(value_ns);
  ++counts_[index_of(v)];
  const auto sv = static_cast<std::int64_t>(v);
  if (count_ == 0 || sv < min_) min_ = sv;
  max_ = std::max(max_, sv);
  ++count_;
  sum_ += static_cast<long double>(v);
}

void Histogram::merge(const Histogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double Histogram::mean() const noexcept {
  return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

std::int64_t Histogram::quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const auto up = static_cast<std::int64_t>(
          std::min<std::uint64_t>(upper_bound(i), std::numeric_limits<std::int64_t>::max()));
      return std::clamp(up, min_, max_);
    }
  }
  return max_;
}

std::uint64_t Histogram::count_above(std::int64_t v) const noexcept {
  if (count_ == 0 || v >= max_) return 0;
  if (v < 0) return count_;
  std::uint64_t n = 0;
  for (std::size_t i = index_of(static_cast<std::uint64_t>(v)) + 1; i < counts_.size(); ++i) {
    n += counts_[i];
  }
  return n;
}

}  // namespace echo
