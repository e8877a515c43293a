#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "tagflow/buffer.hpp"
#include "tagflow/escape.hpp"

namespace esc = tagflow::escape;
using esc::Kernel;
using esc::Mode;

namespace {

std::string escaped(std::string_view s, Mode m, Kernel k) {
  tagflow::Buffer b;
  esc::append_with(k, b, s, m);
  return std::string(b.view());
}

std::vector<Kernel> kernels() {
  std::vector<Kernel> ks{Kernel::kScalar, Kernel::kSse2};
  if (esc::cpu_has_avx2()) ks.push_back(Kernel::kAvx2);
  return ks;
}

constexpr Mode kModes[] = {Mode::kText, Mode::kAttr, Mode::kTagflowAttr};

// The escaping rules written out one byte at a time, independent of the kernels and tables.
std::string reference(std::string_view s, Mode m) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '<':
        out += m == Mode::kTagflowAttr ? "<" : "&lt;";
        break;
      case '"':
        out += m == Mode::kText ? "\"" : "&quot;";
        break;
      case '\'':
        out += m == Mode::kAttr ? "&#39;" : "'";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool cpuinfo_says_avx2() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) return line.find(" avx2") != std::string::npos;
  }
  return false;
}

}  // namespace

TEST(TagflowEscape, TextEscapesAmpLtGt) {
  for (Kernel k : kernels()) {
    EXPECT_EQ(escaped("a & b < c > d \"e\" 'f'", Mode::kText, k),
              "a &amp; b &lt; c &gt; d \"e\" 'f'");
  }
}

TEST(TagflowEscape, AttrEscapesQuotesToo) {
  for (Kernel k : kernels()) {
    EXPECT_EQ(escaped("a & b < c > d \"e\" 'f'", Mode::kAttr, k),
              "a &amp; b &lt; c &gt; d &quot;e&quot; &#39;f&#39;");
  }
}

TEST(TagflowEscape, TagflowAttrMatchesEtree) {
  // xml.etree's HTML serializer escapes & > " in attribute values and leaves < and '.
  for (Kernel k : kernels()) {
    EXPECT_EQ(escaped("<a & 'b' \"c\">", Mode::kTagflowAttr, k), "<a &amp; 'b' &quot;c&quot;&gt;");
  }
}

TEST(TagflowEscape, EmptyAndCleanStringsAreCopied) {
  for (Kernel k : kernels()) {
    EXPECT_EQ(escaped("", Mode::kAttr, k), "");
    const std::string clean(1000, 'x');
    EXPECT_EQ(escaped(clean, Mode::kAttr, k), clean);
  }
}

TEST(TagflowEscape, SpecialAtEveryPositionAndLength) {
  // Lengths around the 16- and 32-byte vector widths, the special byte at every position.
  for (std::size_t n = 1; n <= 70; ++n) {
    for (std::size_t pos = 0; pos < n; ++pos) {
      for (char c : {'&', '<', '>', '"', '\''}) {
        std::string s(n, 'a');
        s[pos] = c;
        for (Mode m : kModes) {
          const std::size_t want = esc::find_scalar(s.data(), s.size(), m);
          for (Kernel k : kernels()) {
            ASSERT_EQ(esc::find_with(k, s.data(), s.size(), m), want)
                << "n=" << n << " pos=" << pos << " c=" << c << " kernel=" << esc::kernel_name(k);
          }
        }
      }
    }
  }
}

TEST(TagflowEscape, WorstCaseExpansionFitsAtEveryLength) {
  // Every byte a quote: six bytes out per byte in, the most any mode writes. Every length up to
  // 2000, so some land just below each step of the buffer's growth and an undersized output
  // reservation overflows the allocation (ASan reports it), whatever the growth policy.
  for (std::size_t n = 1; n <= 2000; ++n) {
    const std::string s(n, '"');
    for (Kernel k : kernels()) {
      const std::string got = escaped(s, Mode::kAttr, k);
      ASSERT_EQ(got.size(), 6 * n) << "n=" << n << " kernel=" << esc::kernel_name(k);
      ASSERT_EQ(got, reference(s, Mode::kAttr)) << "n=" << n;
    }
  }
}

TEST(TagflowEscape, KernelsAgreeByteForByteOnRandomInput) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "abc &<>\"'\xc3\xa9\x00\x7f\xff\n";
  for (int iter = 0; iter < 3000; ++iter) {
    const std::size_t n = rng() % 300;
    const std::size_t offset = rng() % 32;  // unaligned starts
    std::string storage(offset + n, 'z');
    for (std::size_t i = 0; i < n; ++i) storage[offset + i] = alphabet[rng() % alphabet.size()];
    const std::string_view s(storage.data() + offset, n);
    for (Mode m : kModes) {
      const std::string want = reference(s, m);
      EXPECT_EQ(want.size(), esc::escaped_size(s, m));
      for (Kernel k : kernels()) ASSERT_EQ(escaped(s, m, k), want) << esc::kernel_name(k);
      tagflow::Buffer b;
      esc::append(b, s, m);
      ASSERT_EQ(b.view(), want);
    }
  }
}

TEST(TagflowEscape, ActiveKernelIsReported) {
  const Kernel k = esc::active_kernel();
  EXPECT_EQ(esc::cpu_has_avx2(), cpuinfo_says_avx2());  // CPUID probe vs /proc/cpuinfo
  if (cpuinfo_says_avx2()) {
    EXPECT_EQ(k, Kernel::kAvx2);
  } else {
    EXPECT_NE(k, Kernel::kAvx2);
  }
  EXPECT_STRNE(esc::kernel_name(k), "?");
}

TEST(TagflowEscape, EntityTable) {
  EXPECT_EQ(esc::entity('&'), "&amp;");
  EXPECT_EQ(esc::entity('<'), "&lt;");
  EXPECT_EQ(esc::entity('>'), "&gt;");
  EXPECT_EQ(esc::entity('"'), "&quot;");
  EXPECT_EQ(esc::entity('\''), "&#39;");
  EXPECT_TRUE(esc::entity('a').empty());
}
