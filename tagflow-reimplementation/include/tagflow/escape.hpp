// HTML escaping with SIMD scanning (SSE2 baseline, AVX2 chosen at run time) and a scalar
// fallback. All kernels answer the same question: "where is the first byte that needs an
// entity?"; the copying loop around them is shared, so the kernels can be tested to agree.
#pragma once

#include <cstddef>
#include <string_view>

namespace tagflow {
class Buffer;
}

namespace tagflow::escape {

// Which characters are replaced by entities. Every mode also writes NUL as U+FFFD and CR as
// "&#13;" (a parser would drop the one and turn the other into LF).
enum class Mode : unsigned char {
  kText,         // & < >
  kAttr,         // & < > " '
  kTagflowAttr,  // & > "  (what xml.etree's HTML serializer, hence tagflow 0.12.0, escapes)
};

enum class Kernel : unsigned char { kScalar, kSse2, kAvx2 };

// Index of the first byte of s[0, n) that `mode` escapes, or n if there is none.
std::size_t find_scalar(const char* s, std::size_t n, Mode mode) noexcept;
std::size_t find_sse2(const char* s, std::size_t n, Mode mode) noexcept;
// Only call when cpu_has_avx2() is true.
std::size_t find_avx2(const char* s, std::size_t n, Mode mode) noexcept;

bool cpu_has_avx2() noexcept;
// The kernel `find` dispatches to (AVX2 where present, else SSE2 on x86-64, else scalar).
Kernel active_kernel() noexcept;
const char* kernel_name(Kernel k) noexcept;

// Dispatched search (the kernel is chosen once, at first use).
std::size_t find(const char* s, std::size_t n, Mode mode) noexcept;
std::size_t find_with(Kernel k, const char* s, std::size_t n, Mode mode) noexcept;

// The entity for a byte that `mode` escapes ("&amp;", "&lt;", "&gt;", "&quot;", "&#39;",
// "&#13;", or the UTF-8 of U+FFFD for NUL).
std::string_view entity(char c) noexcept;

// Appends s to out with the characters of `mode` replaced by entities.
void append(Buffer& out, std::string_view s, Mode mode);
void append_with(Kernel k, Buffer& out, std::string_view s, Mode mode);

// Convenience for tests and callers that want a std::string.
std::string_view::size_type escaped_size(std::string_view s, Mode mode) noexcept;

}  // namespace tagflow::escape
