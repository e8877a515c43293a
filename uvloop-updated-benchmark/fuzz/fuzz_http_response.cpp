// libFuzzer target over echoload's HTTP response reader: any byte stream, fed in pieces whose
// sizes come from the input, either completes responses or throws http::Error; it never
// crashes, never reads past what it was given, never throws anything else, and a stream that
// is N correct responses always yields exactly N, however it is split.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "http.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Byte 0: the body size expected (0..255 -> 1..256); byte 1: the piece size (1..256).
  const std::size_t body_size = std::size_t{data[0]} + 1, step = std::size_t{data[1]} + 1;
  std::vector<unsigned char> body(body_size);
  for (std::size_t i = 0; i < body_size; ++i) body[i] = echo::http::body_byte(i);

  // The rest as it is: an arbitrary stream.
  const std::vector<unsigned char> stream(data + 2, data + size);
  echo::http::ResponseReader reader(body.data(), body_size);
  try {
    for (std::size_t at = 0; at < stream.size(); at += step) {
      // A copy of exactly the piece, so ASan sees any read beyond it.
      const std::vector<unsigned char> piece(
          stream.begin() + static_cast<std::ptrdiff_t>(at),
          stream.begin() + static_cast<std::ptrdiff_t>(std::min(stream.size(), at + step)));
      reader.feed(piece.data(), piece.size());
    }
  } catch (const echo::http::Error&) {
  }

  // The same number of valid responses, split the same way: all of them must come out.
  const std::size_t n = stream.size() % 4 + 1;
  std::string valid;
  for (std::size_t i = 0; i < n; ++i) echo::http::append_response(valid, body_size);
  echo::http::ResponseReader good(body.data(), body_size);
  std::uint64_t done = 0;
  for (std::size_t at = 0; at < valid.size(); at += step) {
    const std::size_t len = std::min(step, valid.size() - at);
    done += good.feed(reinterpret_cast<const unsigned char*>(valid.data() + at), len);
  }
  if (done != n || !good.idle()) __builtin_trap();
  return 0;
}
