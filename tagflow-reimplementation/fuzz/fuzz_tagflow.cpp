// libFuzzer target over the escaper (all kernels must agree) and the builder (any sequence of
// operations either succeeds with balanced output or throws tagflow::Error, never crashes). The
// builder's tags cover every context: raw text (script style xmp iframe), escapable raw text
// (title textarea), pre, plaintext (refused), SVG and MathML with their integration points
// (foreignObject desc mi annotation-xml), breakout elements (p br img in foreign content), voids.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tagflow/buffer.hpp"
#include "tagflow/document.hpp"
#include "tagflow/escape.hpp"

namespace {

namespace esc = tagflow::escape;

void check_kernels(std::string_view s) {
  for (auto mode : {esc::Mode::kText, esc::Mode::kAttr, esc::Mode::kTagflowAttr}) {
    tagflow::Buffer scalar;
    esc::append_with(esc::Kernel::kScalar, scalar, s, mode);
    tagflow::Buffer sse2;
    esc::append_with(esc::Kernel::kSse2, sse2, s, mode);
    if (scalar.view() != sse2.view()) __builtin_trap();
    if (esc::cpu_has_avx2()) {
      tagflow::Buffer avx2;
      esc::append_with(esc::Kernel::kAvx2, avx2, s, mode);
      if (scalar.view() != avx2.view()) __builtin_trap();
    }
    if (scalar.size() != esc::escaped_size(s, mode)) __builtin_trap();
  }
}

// Interprets the input as a little program for the builder; returns the document. With
// `stream_threshold` > 0 the output goes through a sink in small chunks instead.
std::string drive_builder(const std::uint8_t* data, std::size_t size,
                          std::size_t stream_threshold) {
  static constexpr std::string_view kTags[] = {"div",
                                               "p",
                                               "script",
                                               "style",
                                               "br",
                                               "td",
                                               "x-y",
                                               "svg",
                                               "math",
                                               "foreignObject",
                                               "desc",
                                               "mi",
                                               "annotation-xml",
                                               "pre",
                                               "title",
                                               "textarea",
                                               "iframe",
                                               "xmp",
                                               "plaintext",
                                               "img",
                                               "input"};
  constexpr std::size_t kTagCount = std::size(kTags);
  bool used_raw = false;  // raw() inserts markup as is: the NUL invariant holds only without it
  tagflow::Document doc;
  std::string streamed;
  if (stream_threshold > 0) {
    doc.stream_to([&streamed](std::string_view chunk) { streamed.append(chunk); },
                  stream_threshold);
  }
  std::size_t i = 0;
  auto take = [&](std::size_t max) {
    if (i >= size) return std::string_view();
    const std::size_t want = data[i] % (max + 1);
    ++i;
    const std::size_t n = std::min(want, size - i);
    std::string_view s(reinterpret_cast<const char*>(data + i), n);
    i += n;
    return s;
  };
  while (i < size) {
    const std::uint8_t op = data[i++];
    try {
      switch (op % 12) {
        case 0:
          doc.start(kTags[(op / 12) % kTagCount]);
          break;
        case 1:
          doc.start(take(12));
          break;
        case 2:
          if (doc.depth() > 0) doc.end();
          break;
        case 3:
          doc.text(take(40));
          break;
        case 4:
          used_raw = true;
          doc.raw(take(20));
          break;
        case 5:
          doc.attr(take(10), take(30));
          break;
        case 6:
          doc.classes(take(30));
          break;
        case 7:
          doc.leaf(kTags[(op / 12) % kTagCount], take(30));
          break;
        case 8:
          doc.remove_attr(take(10));
          break;
        case 9:
          doc.script_json(take(30));
          break;
        case 10:
          doc.text(static_cast<int>(op) - 128);
          break;
        case 11:  // annotation-xml becomes an HTML integration point with this attribute
          doc.attr("encoding", (op & 16) != 0 ? "text/html" : "application/mathml+xml");
          break;
      }
    } catch (const tagflow::Error&) {
      // bad input is allowed to be rejected
    }
  }
  // Whatever was rejected, the document stays consistent: closing what is open renders
  // without throwing (an exception escaping here is reported by libFuzzer as a crash).
  while (doc.depth() > 0) doc.end();
  std::string out;
  if (stream_threshold > 0) {
    doc.flush(true);
    out = std::move(streamed);
  } else {
    out = std::string(doc.view());
  }
  // NUL is written as U+FFFD in text, attribute values and raw text: only raw() can emit one.
  if (!used_raw && out.find('\0') != std::string::npos) __builtin_trap();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_kernels(std::string_view(reinterpret_cast<const char*>(data), size));
  // Streaming must not change a single byte of the output, whatever the chunk size.
  const std::string whole = drive_builder(data, size, 0);
  const std::size_t threshold = size > 0 ? 1 + data[0] % 64 : 1;
  if (drive_builder(data, size, threshold) != whole) __builtin_trap();
  return 0;
}
