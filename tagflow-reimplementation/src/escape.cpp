#include "tagflow/escape.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tagflow/buffer.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#define TAGFLOW_X86 1
#include <immintrin.h>
#else
#define TAGFLOW_X86 0
#endif

namespace tagflow::escape {
namespace {

// Bit per mode: bit 0 text, bit 1 attr, bit 2 tagflow attr.
constexpr std::array<std::uint8_t, 256> make_table() {
  std::array<std::uint8_t, 256> t{};
  t['&'] = 0b111;
  t['<'] = 0b011;
  t['>'] = 0b111;
  t['"'] = 0b110;
  t['\''] = 0b010;
  // Every mode: NUL (a parser drops it from text and turns it into U+FFFD in attribute values:
  // written as U+FFFD) and CR (a parser turns CR and CR LF into LF: written as &#13;).
  t[0] = 0b111;
  t['\r'] = 0b111;
  return t;
}
constexpr std::array<std::uint8_t, 256> kTable = make_table();

constexpr std::uint8_t mode_bit(Mode m) noexcept {
  return static_cast<std::uint8_t>(1U << static_cast<unsigned>(m));
}

}  // namespace

std::size_t find_scalar(const char* s, std::size_t n, Mode mode) noexcept {
  const std::uint8_t bit = mode_bit(mode);
  for (std::size_t i = 0; i < n; ++i) {
    if ((kTable[static_cast<unsigned char>(s[i])] & bit) != 0) return i;
  }
  return n;
}

#if TAGFLOW_X86

std::size_t find_sse2(const char* s, std::size_t n, Mode mode) noexcept {
  const __m128i amp = _mm_set1_epi8('&');
  const __m128i lt = _mm_set1_epi8('<');
  const __m128i gt = _mm_set1_epi8('>');
  const __m128i quot = _mm_set1_epi8('"');
  const __m128i apos = _mm_set1_epi8('\'');
  const __m128i nul = _mm_setzero_si128();
  const __m128i cr = _mm_set1_epi8('\r');
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, amp), _mm_cmpeq_epi8(v, gt)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, nul), _mm_cmpeq_epi8(v, cr)));
    switch (mode) {
      case Mode::kText:
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, lt));
        break;
      case Mode::kAttr:
        m = _mm_or_si128(_mm_or_si128(m, _mm_cmpeq_epi8(v, lt)),
                         _mm_or_si128(_mm_cmpeq_epi8(v, quot), _mm_cmpeq_epi8(v, apos)));
        break;
      case Mode::kTagflowAttr:
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, quot));
        break;
    }
    const auto bits = static_cast<unsigned>(_mm_movemask_epi8(m));
    if (bits != 0) return i + static_cast<std::size_t>(__builtin_ctz(bits));
  }
  return i + find_scalar(s + i, n - i, mode);
}

__attribute__((target("avx2"))) std::size_t find_avx2(const char* s, std::size_t n,
                                                      Mode mode) noexcept {
  const __m256i amp = _mm256_set1_epi8('&');
  const __m256i lt = _mm256_set1_epi8('<');
  const __m256i gt = _mm256_set1_epi8('>');
  const __m256i quot = _mm256_set1_epi8('"');
  const __m256i apos = _mm256_set1_epi8('\'');
  const __m256i nul = _mm256_setzero_si256();
  const __m256i cr = _mm256_set1_epi8('\r');
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    __m256i m =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, amp), _mm256_cmpeq_epi8(v, gt)),
                        _mm256_or_si256(_mm256_cmpeq_epi8(v, nul), _mm256_cmpeq_epi8(v, cr)));
    switch (mode) {
      case Mode::kText:
        m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, lt));
        break;
      case Mode::kAttr:
        m = _mm256_or_si256(
            _mm256_or_si256(m, _mm256_cmpeq_epi8(v, lt)),
            _mm256_or_si256(_mm256_cmpeq_epi8(v, quot), _mm256_cmpeq_epi8(v, apos)));
        break;
      case Mode::kTagflowAttr:
        m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, quot));
        break;
    }
    const auto bits = static_cast<unsigned>(_mm256_movemask_epi8(m));
    if (bits != 0) return i + static_cast<std::size_t>(__builtin_ctz(bits));
  }
  // The tail (< 32 bytes) goes through the SSE2 kernel, then scalar.
  return i + find_sse2(s + i, n - i, mode);
}

bool cpu_has_avx2() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}

#else  // not x86-64: the "SIMD" kernels are the scalar one.

std::size_t find_sse2(const char* s, std::size_t n, Mode mode) noexcept {
  return find_scalar(s, n, mode);
}
std::size_t find_avx2(const char* s, std::size_t n, Mode mode) noexcept {
  return find_scalar(s, n, mode);
}
bool cpu_has_avx2() noexcept {
  return false;
}

#endif

Kernel active_kernel() noexcept {
  static const Kernel k = [] {
    if (cpu_has_avx2()) return Kernel::kAvx2;
    return TAGFLOW_X86 ? Kernel::kSse2 : Kernel::kScalar;
  }();
  return k;
}

const char* kernel_name(Kernel k) noexcept {
  switch (k) {
    case Kernel::kScalar:
      return "scalar";
    case Kernel::kSse2:
      return "sse2";
    case Kernel::kAvx2:
      return "avx2";
  }
  return "?";
}

std::size_t find_with(Kernel k, const char* s, std::size_t n, Mode mode) noexcept {
  switch (k) {
    case Kernel::kAvx2:
      return find_avx2(s, n, mode);
    case Kernel::kSse2:
      return find_sse2(s, n, mode);
    case Kernel::kScalar:
      break;
  }
  return find_scalar(s, n, mode);
}

std::size_t find(const char* s, std::size_t n, Mode mode) noexcept {
  // Short strings (most attribute values and table cells) are faster without vector setup.
  if (n < 16) return find_scalar(s, n, mode);
  static const Kernel k = active_kernel();
  return find_with(k, s, n, mode);
}

std::string_view entity(char c) noexcept {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return "&quot;";
    case '\'':
      return "&#39;";
    case '\0':
      return "\xEF\xBF\xBD";  // U+FFFD
    case '\r':
      return "&#13;";
    default:
      return {};
  }
}

namespace {
// Entities padded to 8 bytes, so writing one is a single fixed-size copy.
struct Entity {
  char text[8];
  std::uint8_t size;
};
constexpr std::array<Entity, 256> make_entities() {
  std::array<Entity, 256> t{};
  auto set = [&t](char c, std::string_view e) {
    Entity& x = t[static_cast<unsigned char>(c)];
    for (std::size_t i = 0; i < e.size(); ++i) x.text[i] = e[i];
    x.size = static_cast<std::uint8_t>(e.size());
  };
  set('&', "&amp;");
  set('<', "&lt;");
  set('>', "&gt;");
  set('"', "&quot;");
  set('\'', "&#39;");
  set('\0', "\xEF\xBF\xBD");
  set('\r', "&#13;");
  return t;
}
constexpr std::array<Entity, 256> kEntities = make_entities();

// Escapes into space reserved once for the worst case (every byte a 6-byte entity, plus 8 bytes
// of slack for the padded entity copy), in chunks so a huge string never reserves more than
// 6 x kChunk at a time. Runs of 16 bytes or more are scanned by `find_long` (a SIMD kernel);
// shorter remainders by the inline table loop.
constexpr std::size_t kChunk = 64 * 1024;

template <class Find>
void append_impl(Buffer& out, std::string_view s, Mode mode, Find&& find_long) {
  const std::uint8_t bit = mode_bit(mode);
  const char* p = s.data();
  std::size_t left = s.size();
  while (left != 0) {
    const std::size_t n = left < kChunk ? left : kChunk;
    left -= n;
    const char* const end = p + n;
    char* const begin = out.prepare(n * 6 + 8);
    char* dst = begin;
    while (p < end) {
      const auto rest = static_cast<std::size_t>(end - p);
      std::size_t i = 0;
      if (rest >= 16) {
        i = find_long(p, rest, mode);
      } else {
        while (i < rest && (kTable[static_cast<unsigned char>(p[i])] & bit) == 0) ++i;
      }
      std::memcpy(dst, p, i);
      dst += i;
      p += i;
      if (p == end) break;
      const Entity& e = kEntities[static_cast<unsigned char>(*p)];
      std::memcpy(dst, e.text, 8);
      dst += e.size;
      ++p;
    }
    out.commit(static_cast<std::size_t>(dst - begin));
  }
}
}  // namespace

void append(Buffer& out, std::string_view s, Mode mode) {
  switch (active_kernel()) {
    case Kernel::kAvx2:
      append_impl(out, s, mode, find_avx2);
      return;
    case Kernel::kSse2:
      append_impl(out, s, mode, find_sse2);
      return;
    case Kernel::kScalar:
      break;
  }
  append_impl(out, s, mode, find_scalar);
}

void append_with(Kernel k, Buffer& out, std::string_view s, Mode mode) {
  append_impl(out, s, mode,
              [k](const char* p, std::size_t n, Mode m) { return find_with(k, p, n, m); });
}

std::string_view::size_type escaped_size(std::string_view s, Mode mode) noexcept {
  std::size_t total = s.size();
  const std::uint8_t bit = mode_bit(mode);
  for (const char c : s) {
    if ((kTable[static_cast<unsigned char>(c)] & bit) != 0) total += entity(c).size() - 1;
  }
  return total;
}

}  // namespace tagflow::escape
