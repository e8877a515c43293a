#include <gtest/gtest.h>

#include <cstdint>

#include "histogram.hpp"

using echo::Histogram;

TEST(Histogram, SmallValuesAreExact) {
  for (std::uint64_t v : {0u, 1u, 7u, 1000u, 2047u}) {
    EXPECT_EQ(Histogram::lower_bound(Histogram::index_of(v)), v);
    EXPECT_EQ(Histogram::upper_bound(Histogram::index_of(v)), v);
  }
}

TEST(Histogram, BucketsCoverValuesWithBoundedRelativeError) {
  for (std::uint64_t v = 2048; v < (std::uint64_t{1} << 40); v = v * 3 + 17) {
    const auto i = Histogram::index_of(v);
    const auto lo = Histogram::lower_bound(i), hi = Histogram::upper_bound(i);
    EXPECT_LE(lo, v);
    EXPECT_GE(hi, v);
    EXPECT_LT(static_cast<double>(hi - lo) / static_cast<double>(lo), 1.0 / 1024 + 1e-12);
    EXPECT_EQ(Histogram::index_of(hi + 1), i + 1) << v;  // buckets are contiguous
  }
}

TEST(Histogram, QuantilesOfAUniformSequence) {
  Histogram h;
  for (int v = 1; v <= 100'000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.min(), 1000);
  EXPECT_EQ(h.max(), 100'000'000);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.5)), 50e6, 50e6 / 1000);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.99)), 99e6, 99e6 / 1000);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.999)), 99.9e6, 99.9e6 / 1000);
  EXPECT_EQ(h.quantile(1.0), h.max());
  EXPECT_NEAR(h.mean(), 50.0005e6, 1);
}

TEST(Histogram, MergeAddsCountsAndExtremes) {
  Histogram a, b;
  a.record(5);
  a.record(10);
  b.record(1);
  b.record(1'000'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 4u);
  EXPECT_EQ(a.min(), 1);
  EXPECT_EQ(a.max(), 1'000'000);
  EXPECT_EQ(a.quantile(0.5), 5);
}

TEST(Histogram, EmptyAndNegative) {
  Histogram h;
  EXPECT_EQ(h.quantile(0.5), 0);
  h.record(-5);  // a clock hiccup is clamped to zero, never an out-of-range index
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.count(), 1u);
}
