// tagflow::Document: HTML5 written straight into one growing buffer, with a stack of open tags.
//
//   tagflow::Document doc;
//   doc.doctype();
//   {
//     auto html = doc.html({{"lang", "en"}});
//     auto body = doc.body();
//     { auto card = doc.div({{"class", "card"}}); doc.h2(title); doc.text(summary); }
//     doc.br();
//   }
//   std::string out = doc.take();
//
// No node tree: a start tag is written when opened and stays "pending" (its '>' not yet
// written) until the first child, so attributes can still be added. Void elements are written
// once and never closed; script/style content is raw and may not contain its end tag. Text
// escapes & < >, attribute values & < > " '. Errors throw tagflow::Error (never half-written
// output: a rejected call leaves the document as it was).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tagflow/buffer.hpp"
#include "tagflow/elements.hpp"
#include "tagflow/escape.hpp"

namespace tagflow {

// Bad input (invalid names, forbidden content) or misuse (attribute after a child, unclosed
// tags at the end). The message names the offending element or attribute.
class Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Kind of an element by name (ASCII case-insensitive). `etree_voids` uses the void set of
// Python's xml.etree HTML serializer (adds basefont, frame, isindex), for tagflow compatibility.
ElementKind element_kind(std::string_view name, bool etree_voids = false) noexcept;

// Throws Error unless `name` is a valid tag name: an ASCII letter, then letters, digits, - _ . :
void validate_tag_name(std::string_view name);
// Throws Error for an empty name or one with whitespace, quotes, < > / =, or control characters.
void validate_attr_name(std::string_view name);
// `s` in single quotes for an error message: control characters as \xNN (a NUL never cuts the
// message), cut after `max` bytes with "...".
std::string quote_for_message(std::string_view s, std::size_t max = 80);
bool is_valid_attr_name(std::string_view name) noexcept;

// An attribute value: text, number, or a boolean (true: bare attribute, false: omitted).
// nullptr also omits the attribute.
class AttrValue {
 public:
  enum class Type : std::uint8_t { kOmit, kBare, kText, kInt, kFloat };
  AttrValue(std::nullptr_t) noexcept : type_(Type::kOmit) {}  // NOLINT(google-explicit-constructor)
  AttrValue(bool b) noexcept : type_(b ? Type::kBare : Type::kOmit) {}        // NOLINT
  AttrValue(const char* s) noexcept : type_(Type::kText), text_(s) {}         // NOLINT
  AttrValue(std::string_view s) noexcept : type_(Type::kText), text_(s) {}    // NOLINT
  AttrValue(const std::string& s) noexcept : type_(Type::kText), text_(s) {}  // NOLINT
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  AttrValue(T v) noexcept : type_(Type::kInt), int_(static_cast<std::int64_t>(v)) {}  // NOLINT
  template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  AttrValue(T v) noexcept : type_(Type::kFloat), float_(static_cast<double>(v)) {}  // NOLINT

  [[nodiscard]] Type type() const noexcept { return type_; }
  [[nodiscard]] std::string_view text() const noexcept { return text_; }
  [[nodiscard]] std::int64_t int_value() const noexcept { return int_; }
  [[nodiscard]] double float_value() const noexcept { return float_; }

 private:
  Type type_;
  std::string_view text_;
  std::int64_t int_ = 0;
  double float_ = 0;
};

struct Attr {
  std::string_view name;
  AttrValue value;
};
using Attrs = std::initializer_list<Attr>;

// Receives finished output in streaming mode.
using Sink = std::function<void(std::string_view)>;
Sink ostream_sink(std::ostream& os);
// Writes everything to fd (retrying short writes and EINTR); throws std::system_error on failure.
Sink fd_sink(int fd);

struct Options {
  escape::Mode attr_escape = escape::Mode::kAttr;
  bool etree_voids = false;  // void elements as xml.etree's HTML serializer knows them
  std::size_t initial_capacity = 4096;
};

class Document;

// RAII scope of an open element: closes it when destroyed.
class [[nodiscard]] Element {
 public:
  Element(Element&& other) noexcept
      : doc_(std::exchange(other.doc_, nullptr)), serial_(other.serial_) {}
  Element& operator=(Element&&) = delete;
  Element(const Element&) = delete;
  Element& operator=(const Element&) = delete;
  ~Element();

 private:
  friend class Document;
  Element(Document* doc, std::uint64_t serial) noexcept : doc_(doc), serial_(serial) {}
  Document* doc_;
  std::uint64_t serial_;  // which open element this guard closes
};

class Document {
 public:
  Document() : Document(Options{}) {}
  explicit Document(const Options& options);
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;
  // Movable while no Element guard is alive (guards point at the document they came from).
  Document(Document&&) noexcept = default;
  Document& operator=(Document&&) noexcept = default;
  ~Document() = default;

  // ---- elements -------------------------------------------------------------------------
  // Opens `tag` (validated); void elements are written once and not pushed.
  void start(std::string_view tag, Attrs attrs = {});
  // Same, for a name known valid (the generated per-element methods and the Python binding).
  void start_trusted(std::string_view tag, ElementKind kind);
  // Closes the innermost open element; throws if none is open.
  void end();
  // Opens tag and returns a guard that closes it.
  Element open(std::string_view tag, Attrs attrs = {});
  // Writes <tag attrs>text</tag> at once (text escaped, or raw for script/style).
  void leaf(std::string_view tag, std::string_view text, Attrs attrs = {});

  // ---- attributes of the element just opened (until its first child) --------------------
  void attr(std::string_view name, const AttrValue& value);
  void attr_trusted(std::string_view name, const AttrValue& value);  // name already valid
  // Adds space-separated class names to the class attribute, dropping duplicates.
  void classes(std::string_view names);
  // Removes an attribute (no-op if absent).
  void remove_attr(std::string_view name);
  [[nodiscard]] bool accepts_attributes() const noexcept { return pending_ != Pending::kNone; }

  // ---- content --------------------------------------------------------------------------
  void text(std::string_view s);  // escaped (raw, but checked, inside script/style)
  template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) void text(T v) {
    text_int(static_cast<std::int64_t>(v));
  }
  template <class T>
  requires std::is_floating_point_v<T>
  void text(T v) { text_float(static_cast<double>(v)); }
  void raw(std::string_view html);  // inserted as is (checked inside script/style)
  // Writes the content of the innermost open element (escaped, or as is with `markup`) and closes
  // it; in streaming mode nothing is flushed before the element is complete.
  void finish_leaf(std::string_view content, bool markup = false);
  void doctype();  // <!doctype html>
  // <script attrs>json</script> with < > & U+2028 U+2029 written as \uXXXX, so that no JSON
  // text can end the script or enter the parser's script escape states (the JSON is not
  // validated: pass valid JSON, e.g. from a serializer).
  void script_json(std::string_view json, Attrs attrs = {});
  // The same escaped JSON as content of the innermost open element (a script opened by hand).
  void json_text(std::string_view json);

  // Removes the content written so far into the innermost open element (its start tag stays).
  void clear_content();
  // The (escaped) value of an attribute of the element just opened, if present.
  [[nodiscard]] bool attr_value(std::string_view name, std::string_view& value) const noexcept;

 private:
  // The namespace a parser puts the children of an open element in (see context_of()).
  enum class Ns : std::uint8_t {
    kHtml,        // HTML, including HTML integration points (foreignObject, desc, title in SVG)
    kSvg,         // SVG content: foreign rules
    kMath,        // MathML content: foreign rules
    kMathText,    // MathML text integration point (mi mo mn ms mtext): HTML, but mglyph and
                  // malignmark stay MathML
    kAnnotation,  // MathML annotation-xml: MathML, but <svg> is SVG; HTML children when its
                  // encoding attribute is text/html or application/xhtml+xml
  };
  // Per open element: what makes its content need more than escaping (the slow path).
  enum Flags : std::uint8_t {
    kRaw = 1,        // raw text (script style xmp iframe noembed noframes): checked, not escaped
    kRcdata = 2,     // escapable raw text (title textarea): no child elements
    kLfElement = 4,  // pre textarea listing: a leading newline is doubled
    kLfFresh = 8,    // ... and nothing has been written into it yet
    kScript = 16,    // script: also '<!--' and '<script' are refused
    kDecide = 32,    // annotation-xml: namespace of the children decided at the first child
    kSlow = kRaw | kRcdata | kLfFresh | kDecide,
  };

 public:
  // ---- undo -------------------------------------------------------------------------------
  // A call that fails half-way (e.g. a bad attribute value found after the start tag was
  // written) restores the document with rollback(checkpoint()) taken before it.
  // (If output was handed to a sink in between, the undo is impossible: the document is then
  // marked invalid and view()/flush() throw.)
  struct Checkpoint {
    std::size_t size, depth, names;
    std::size_t pending_start;
    std::uint64_t elements, streamed;
    std::uint8_t pending;
    std::uint8_t top_flags, top_ns;  // a failed child must not change its parent's state
  };
  [[nodiscard]] Checkpoint checkpoint() const noexcept {
    return {buf_.size(),
            stack_.size(),
            names_.size(),
            pending_start_,
            elements_,
            streamed_,
            static_cast<std::uint8_t>(pending_),
            stack_.empty() ? std::uint8_t{0} : stack_.back().flags,
            static_cast<std::uint8_t>(stack_.empty() ? Ns::kHtml : stack_.back().ns)};
  }
  void rollback(const Checkpoint& c) noexcept;

  // ---- state and output -----------------------------------------------------------------
  [[nodiscard]] std::size_t depth() const noexcept { return stack_.size(); }
  // Identifies the innermost open element (unique for the document's lifetime; 0 if none).
  [[nodiscard]] std::uint64_t top_serial() const noexcept {
    return stack_.empty() ? 0 : stack_.back().serial;
  }
  [[nodiscard]] std::string_view open_tag(std::size_t i) const noexcept;  // 0 = outermost
  // For the binding's compat Markup text runs (rewritten in place, see python/_core.cpp): the
  // output not yet handed to a sink, whether a start tag still awaits its '>', whether the
  // innermost element's content is raw text, and where that content begins in the buffer.
  [[nodiscard]] std::string_view buffered() const noexcept { return buf_.view(); }
  [[nodiscard]] bool start_tag_pending() const noexcept { return pending_ != Pending::kNone; }
  // What ends the start tag still pending ("", ">" or "/>"): buffered() + this is the output
  // so far as a parser would read it (with the open elements unclosed).
  [[nodiscard]] std::string_view pending_close() const noexcept {
    return pending_ == Pending::kNone ? "" : pending_ == Pending::kForeignVoid ? "/>" : ">";
  }
  [[nodiscard]] bool top_is_raw() const noexcept {
    return !stack_.empty() && (stack_.back().flags & kRaw) != 0;
  }
  [[nodiscard]] std::size_t top_content_start() const noexcept {
    return stack_.empty() ? 0 : stack_.back().content_start;
  }
  // "<html> <body>" for messages; empty when nothing is open.
  [[nodiscard]] std::string describe_open() const;
  // The finished document; throws Error naming the open tags if any is still open.
  [[nodiscard]] std::string_view view();
  [[nodiscard]] std::string take();
  void clear() noexcept;
  [[nodiscard]] std::uint64_t elements_written() const noexcept { return elements_; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

  // ---- streaming --------------------------------------------------------------------------
  // From now on, whenever the finished part of the buffer passes `threshold` bytes it is handed
  // to `sink` and dropped; memory stays about threshold + the largest single write.
  void stream_to(Sink sink, std::size_t threshold = 64 * 1024);
  // Hands everything finished to the sink; with `final`, requires all tags closed.
  void flush(bool final = false);
  [[nodiscard]] std::uint64_t bytes_streamed() const noexcept { return streamed_; }
  [[nodiscard]] bool streaming() const noexcept { return static_cast<bool>(sink_); }

  // ---- one method per HTML element --------------------------------------------------------
  // Normal elements: doc.div(attrs) returns a guard; doc.div(text, attrs) writes a leaf.
  // Void elements: doc.br(attrs) writes the element.
#define TAGFLOW_TAG_N(id, name)                                  \
  Element id(Attrs attrs = {}) {                                 \
    start_known(name, ElementKind::kNormal, attrs);              \
    return Element(this, stack_.back().serial);                  \
  }                                                              \
  void id(std::string_view text_content, Attrs attrs = {}) {     \
    leaf_known(name, ElementKind::kNormal, text_content, attrs); \
  }
#define TAGFLOW_TAG_R(id, name)                                   \
  Element id(Attrs attrs = {}) {                                  \
    start_known(name, ElementKind::kRawText, attrs);              \
    return Element(this, stack_.back().serial);                   \
  }                                                               \
  void id(std::string_view text_content, Attrs attrs = {}) {      \
    leaf_known(name, ElementKind::kRawText, text_content, attrs); \
  }
#define TAGFLOW_TAG_V(id, name)                   \
  void id(Attrs attrs = {}) {                     \
    start_known(name, ElementKind::kVoid, attrs); \
  }
#define TAGFLOW_TAG(id, name, kind) TAGFLOW_TAG_##kind(id, name)
#include "tagflow/tags.def"
#undef TAGFLOW_TAG
#undef TAGFLOW_TAG_N
#undef TAGFLOW_TAG_R
#undef TAGFLOW_TAG_V

 private:
  friend class Element;
  // kForeignVoid: a void element in SVG/MathML content, written self-closing ("<input/>").
  enum class Pending : std::uint8_t { kNone, kElement, kVoid, kForeignVoid };
  struct Open {
    std::uint32_t name_offset;  // into names_
    std::uint32_t name_size;
    ElementKind kind;
    Ns ns;                      // namespace of the children
    std::uint8_t flags;         // Flags
    std::size_t content_start;  // buffer offset where the content begins (raw-text checks)
    std::uint64_t serial;
  };
  struct AttrSpan {
    std::size_t begin = 0;  // the space before the name
    std::size_t end = 0;    // one past the closing quote (or the name, if bare)
    std::size_t value_begin = 0;
    std::size_t value_end = 0;  // value_begin == value_end == 0 for a bare attribute
    bool found = false;
  };

  void start_known(std::string_view tag, ElementKind kind, Attrs attrs);
  void leaf_known(std::string_view tag, ElementKind kind, std::string_view text, Attrs attrs);
  void close_pending() {
    if (pending_ != Pending::kNone) {
      if (pending_ == Pending::kForeignVoid) buf_.push_back('/');
      buf_.push_back('>');
      if (pending_ == Pending::kElement) stack_.back().content_start = buf_.size();
      pending_ = Pending::kNone;
    }
  }
  void close_guard(std::uint64_t serial) noexcept;
  void end_no_flush();
  void write_text(std::string_view s);
  void write_raw(std::string_view html);
  void text_int(std::int64_t v);
  void text_float(double v);
  void write_attr(std::string_view name, const AttrValue& value);
  AttrSpan find_attr(std::string_view name) const noexcept;
  void check_raw_text(std::size_t from);
  void write_text_slow(std::string_view s, bool markup);
  // A child element (`child`, or empty for a number) is about to be written into an element
  // with kSlow flags: refuses elements in raw text, notes that content was written.
  void content_slow(std::string_view child);
  void foreign_start(std::string_view tag, ElementKind& kind, Ns parent_ns, Ns& ns);
  [[nodiscard]] std::string describe_foreign() const;
  void decide_annotation_ns() noexcept;
  [[nodiscard]] Ns current_ns() const noexcept {
    return stack_.empty() ? Ns::kHtml : stack_.back().ns;
  }
  void maybe_flush() {
    if (sink_ && buf_.size() >= threshold_) flush(false);
  }
  [[nodiscard]] std::size_t flushable() const noexcept;
  [[noreturn]] void no_element_for_attributes(std::string_view what) const;

  Options options_;
  Buffer buf_;
  std::vector<Open> stack_;
  std::string names_;  // names of the open elements, back to back
  Pending pending_ = Pending::kNone;
  std::size_t pending_start_ = 0;  // offset of '<' of the pending start tag
  bool broken_ = false;            // an Element guard closed out of order
  std::uint64_t elements_ = 0;
  std::uint64_t serial_ = 0;  // numbers the pushed elements, never reset
  Sink sink_;
  std::size_t threshold_ = 0;
  std::uint64_t streamed_ = 0;
};

inline Element::~Element() {
  if (doc_ != nullptr) doc_->close_guard(serial_);
}

}  // namespace tagflow
