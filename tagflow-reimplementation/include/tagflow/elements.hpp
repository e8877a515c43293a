#pragma once
// The HTML element table: every element the engine knows, with its kind, as constexpr data built
// from tags.def (the one list). The engine's element_kind() (document.cpp), the per-element
// methods of Document (document.hpp), the Python extension's methods, ELEMENTS and VOID_ELEMENTS
// (python/_core.cpp) and the type stub (python/tagflow_cpp/_core.pyi, written by
// tools/gen_stub.py) all come from it: add or change an element in tags.def only.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tagflow {

enum class ElementKind : std::uint8_t { kNormal, kVoid, kRawText };

struct ElementInfo {
  const char* name;   // HTML name, NUL-terminated ("template")
  const char* ident;  // C++ identifier: the name, or name_ for a C++ keyword ("template_")
  ElementKind kind;
};

namespace detail {
// tags.def's kind letter: N normal, V void, R raw text.
constexpr ElementKind element_kind_from_letter(char k) noexcept {
  return k == 'V' ? ElementKind::kVoid : k == 'R' ? ElementKind::kRawText : ElementKind::kNormal;
}
}  // namespace detail

inline constexpr ElementInfo kElements[] = {
#define TAGFLOW_TAG(id, name, kind) {name, #id, detail::element_kind_from_letter(#kind[0])},
#include "tagflow/tags.def"
#undef TAGFLOW_TAG
};
inline constexpr std::size_t kElementCount = std::size(kElements);

template <ElementKind K>
constexpr std::size_t element_count_of_kind() noexcept {
  std::size_t n = 0;
  for (const auto& e : kElements) n += e.kind == K ? 1 : 0;
  return n;
}

// The names of the elements of kind K, in table order (e.g. the void elements).
template <ElementKind K>
constexpr std::array<std::string_view, element_count_of_kind<K>()>
element_names_of_kind() noexcept {
  std::array<std::string_view, element_count_of_kind<K>()> out{};
  std::size_t i = 0;
  for (const auto& e : kElements) {
    if (e.kind == K) out[i++] = e.name;
  }
  return out;
}

}  // namespace tagflow
