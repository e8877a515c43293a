#include "tagflow/document.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <ostream>
#include <system_error>

namespace tagflow {
namespace {

constexpr char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != b[i]) return false;
  }
  return true;
}

// From the element table (elements.hpp, tags.def): the names element_kind() must recognize.
constexpr auto kVoids = element_names_of_kind<ElementKind::kVoid>();
constexpr auto kRawTexts = element_names_of_kind<ElementKind::kRawText>();
// Void in Python's xml.etree HTML serializer only (obsolete elements, not in the table).
constexpr std::array<std::string_view, 3> kEtreeOnlyVoids = {"basefont", "frame", "isindex"};

// Shortest and longest of those names: any other length is a normal element (the fast path).
struct SizeRange {
  std::size_t min = static_cast<std::size_t>(-1);
  std::size_t max = 0;
  constexpr void add(std::string_view s) noexcept {
    min = s.size() < min ? s.size() : min;
    max = s.size() > max ? s.size() : max;
  }
};
constexpr SizeRange special_name_sizes() noexcept {
  SizeRange r;
  for (auto s : kVoids) r.add(s);
  for (auto s : kRawTexts) r.add(s);
  for (auto s : kEtreeOnlyVoids) r.add(s);
  return r;
}
constexpr SizeRange kSpecialSizes = special_name_sizes();

bool is_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

void append_int(Buffer& out, std::int64_t v) {
  char* p = out.prepare(24);
  auto r = std::to_chars(p, p + 24, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

void append_float(Buffer& out, double v) {
  char* p = out.prepare(32);
  auto r = std::to_chars(p, p + 32, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

// Case-insensitive prefix match: does d[0, want.size()) equal `want` (given in lower case)?
bool imatch(const char* d, std::string_view want) noexcept {
  for (std::size_t k = 0; k < want.size(); ++k) {
    if (lower(d[k]) != want[k]) return false;
  }
  return true;
}

// Appends s with every NUL replaced by U+FFFD (what a parser turns it into in script data).
void append_replacing_nul(Buffer& out, std::string_view s) {
  for (;;) {
    const std::size_t k = s.find('\0');
    if (k == std::string_view::npos) {
      out.append(s);
      return;
    }
    out.append(s.substr(0, k));
    out.append("\xEF\xBF\xBD");
    s.remove_prefix(k + 1);
  }
}

// HTML start tags that make a parser leave SVG/MathML content ("breakout" elements of the
// tree-construction rules for foreign content). font only breaks out with color, face or size;
// it is refused whatever its attributes.
constexpr std::string_view kBreakout[] = {
    "b",      "big",    "blockquote", "body",  "br",    "center", "code", "dd",      "div",
    "dl",     "dt",     "em",         "embed", "font",  "h1",     "h2",   "h3",      "h4",
    "h5",     "h6",     "head",       "hr",    "i",     "img",    "li",   "listing", "menu",
    "meta",   "nobr",   "ol",         "p",     "pre",   "ruby",   "s",    "small",   "span",
    "strong", "strike", "sub",        "sup",   "table", "tt",     "u",    "ul",      "var"};

bool is_breakout(std::string_view name) noexcept {
  for (auto b : kBreakout) {
    if (iequals(name, b)) return true;
  }
  return false;
}

bool is_html_encoding(std::string_view v) noexcept {
  return iequals(v, "text/html") || iequals(v, "application/xhtml+xml");
}

}  // namespace

std::string quote_for_message(std::string_view s, std::size_t max) {
  std::string out = "'";
  const bool cut = s.size() > max;
  if (cut) {
    s = s.substr(0, max);
    // Do not cut inside a UTF-8 sequence.
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.remove_suffix(1);
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.remove_suffix(1);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == '\'') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c < 0x20 || c == 0x7F) {
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('\'');
  if (cut) out.append("...");
  return out;
}

ElementKind element_kind(std::string_view name, bool etree_voids) noexcept {
  if (name.size() < kSpecialSizes.min || name.size() > kSpecialSizes.max) {
    return ElementKind::kNormal;
  }
  for (auto r : kRawTexts) {
    if (iequals(name, r)) return ElementKind::kRawText;
  }
  for (auto v : kVoids) {
    if (iequals(name, v)) return ElementKind::kVoid;
  }
  if (etree_voids) {
    for (auto v : kEtreeOnlyVoids) {
      if (iequals(name, v)) return ElementKind::kVoid;
    }
  }
  return ElementKind::kNormal;
}

void validate_tag_name(std::string_view name) {
  bool ok = !name.empty() && is_letter(name[0]);
  for (std::size_t i = 1; ok && i < name.size(); ++i) {
    const char c = name[i];
    ok = is_letter(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == ':';
  }
  if (!ok) {
    throw Error("invalid tag name " + quote_for_message(name) +
                ": use an ASCII letter followed by letters, digits, '-', '_', '.' or ':'");
  }
}

bool is_valid_attr_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c <= 0x20 || c == 0x7F || c == '"' || c == '\'' || c == '<' || c == '>' || c == '/' ||
        c == '=') {
      return false;
    }
    // C1 control characters U+0080..U+009F are encoded C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < name.size()) {
      const auto d = static_cast<unsigned char>(name[i + 1]);
      if (d >= 0x80 && d <= 0x9F) return false;
    }
  }
  return true;
}

void validate_attr_name(std::string_view name) {
  if (!is_valid_attr_name(name)) {
    throw Error("invalid attribute name " + quote_for_message(name) +
                ": names may not be empty or contain whitespace, quotes, < > / = or control "
                "characters");
  }
}

Sink ostream_sink(std::ostream& os) {
  return [&os](std::string_view chunk) {
    os.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (!os) throw std::runtime_error("tagflow: writing to the output stream failed");
  };
}

Sink fd_sink(int fd) {
  return [fd](std::string_view chunk) {
    while (!chunk.empty()) {
      const ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "tagflow: write to fd failed");
      }
      chunk.remove_prefix(static_cast<std::size_t>(n));
    }
  };
}

Document::Document(const Options& options) : options_(options), buf_(options.initial_capacity) {
  stack_.reserve(32);
  names_.reserve(256);
}

// ---- elements ---------------------------------------------------------------------------

void Document::start(std::string_view tag, Attrs attrs) {
  validate_tag_name(tag);
  for (const Attr& a : attrs) validate_attr_name(a.name);
  start_known(tag, element_kind(tag, options_.etree_voids), attrs);
}

void Document::start_trusted(std::string_view tag, ElementKind kind) {
  Ns parent_ns = current_ns();
  if (!stack_.empty() && (stack_.back().flags & kSlow) != 0) [[unlikely]] {
    content_slow(tag);
    parent_ns = current_ns();  // annotation-xml decides its namespace at its first child
  }
  if (parent_ns == Ns::kMathText && !iequals(tag, "mglyph") && !iequals(tag, "malignmark")) {
    parent_ns = Ns::kHtml;  // MathML text integration point: HTML rules
  }
  Ns ns = Ns::kHtml;  // the namespace of the new element's children
  std::uint8_t flags = 0;
  bool foreign = false;  // the new element itself is SVG/MathML
  if (parent_ns == Ns::kHtml) [[likely]] {
    // HTML content: svg and math enter foreign content; a few names need more than escaping.
    // Switching on the length keeps the common names at one or two comparisons.
    switch (tag.size()) {
      case 3:
        if (iequals(tag, "svg")) {
          ns = Ns::kSvg;
        } else if (iequals(tag, "pre")) {
          flags = kLfElement | kLfFresh;
        } else if (iequals(tag, "xmp")) {
          kind = ElementKind::kRawText;
        }
        break;
      case 4:
        if (iequals(tag, "math")) ns = Ns::kMath;
        break;
      case 5:
        if (iequals(tag, "title")) flags = kRcdata;
        break;
      case 6:
        if (iequals(tag, "script")) {
          flags = kScript;
        } else if (iequals(tag, "iframe")) {
          kind = ElementKind::kRawText;
        }
        break;
      case 7:
        if (iequals(tag, "listing")) {
          flags = kLfElement | kLfFresh;
        } else if (iequals(tag, "noembed")) {
          kind = ElementKind::kRawText;
        }
        break;
      case 8:
        if (iequals(tag, "textarea")) {
          flags = kRcdata | kLfElement | kLfFresh;
        } else if (iequals(tag, "noframes")) {
          kind = ElementKind::kRawText;
        }
        break;
      case 9:
        if (iequals(tag, "plaintext")) {
          throw Error(
              "<plaintext> is refused: a parser reads everything after its start tag, "
              "to the end of the document, as text (it has no end tag); use <pre>");
        }
        break;
      default:
        break;
    }
    if (kind == ElementKind::kRawText) flags |= kRaw;
  } else {
    foreign_start(tag, kind, parent_ns, ns);
    foreign = true;
    if (ns == Ns::kAnnotation) flags = kDecide;
  }
  close_pending();
  pending_start_ = buf_.size();
  char* p = buf_.prepare(tag.size() + 1);
  p[0] = '<';
  std::memcpy(p + 1, tag.data(), tag.size());
  buf_.commit(tag.size() + 1);
  ++elements_;
  if (kind == ElementKind::kVoid) {
    pending_ = foreign ? Pending::kForeignVoid : Pending::kVoid;
    return;
  }
  pending_ = Pending::kElement;
  stack_.push_back(Open{static_cast<std::uint32_t>(names_.size()),
                        static_cast<std::uint32_t>(tag.size()), kind, ns, flags, 0, ++serial_});
  names_.append(tag);
}

void Document::foreign_start(std::string_view tag, ElementKind& kind, Ns parent_ns, Ns& ns) {
  // The new element is an SVG or MathML element: its content is parsed as normal text (no raw
  // text in foreign content), void elements are written self-closing.
  if (kind == ElementKind::kRawText) kind = ElementKind::kNormal;
  if (parent_ns == Ns::kMathText) {
    ns = Ns::kMath;  // mglyph, malignmark (start_trusted sends nothing else here)
    return;
  }
  if (is_breakout(tag)) {
    throw Error("<" + std::string(tag) + "> inside " + describe_foreign() +
                ": in SVG/MathML (foreign) content a parser closes the <svg>/<math> at this "
                "HTML element (breakout rule), so it would not be where it was written; close "
                "the foreign element first, or put HTML inside <foreignObject> (SVG) or "
                "<mtext> (MathML)");
  }
  switch (parent_ns) {
    case Ns::kSvg:
      ns = (iequals(tag, "foreignobject") || iequals(tag, "desc") || iequals(tag, "title"))
               ? Ns::kHtml
               : Ns::kSvg;
      return;
    case Ns::kAnnotation:
      if (iequals(tag, "svg")) {
        ns = Ns::kSvg;
        return;
      }
      [[fallthrough]];
    default:  // kMath
      if (iequals(tag, "mi") || iequals(tag, "mo") || iequals(tag, "mn") || iequals(tag, "ms") ||
          iequals(tag, "mtext")) {
        ns = Ns::kMathText;
      } else if (iequals(tag, "annotation-xml")) {
        ns = Ns::kAnnotation;
      } else {
        ns = Ns::kMath;
      }
      return;
  }
}

std::string Document::describe_foreign() const {
  for (std::size_t i = stack_.size(); i-- > 0;) {
    const std::string_view n = open_tag(i);
    if (iequals(n, "svg") || iequals(n, "math")) return "<" + std::string(n) + ">";
  }
  return "<" + std::string(open_tag(depth() - 1)) + ">";
}

void Document::content_slow(std::string_view child) {
  Open& top = stack_.back();
  if ((top.flags & (kRaw | kRcdata)) != 0 && !child.empty()) {
    const std::string name(open_tag(depth() - 1));
    throw Error("<" + std::string(child) + "> inside <" + name + ">: <" + name +
                "> holds text only (a parser reads any tag inside it as text)");
  }
  if ((top.flags & kDecide) != 0) decide_annotation_ns();
  top.flags &= static_cast<std::uint8_t>(~kLfFresh);
}

void Document::decide_annotation_ns() noexcept {
  // annotation-xml is an HTML integration point when its encoding attribute says HTML. Called
  // before its first child, while its start tag (with the attributes) is still pending.
  Open& top = stack_.back();
  top.flags &= static_cast<std::uint8_t>(~kDecide);
  std::string_view encoding;
  if (pending_ == Pending::kElement && attr_value("encoding", encoding) &&
      is_html_encoding(encoding)) {
    top.ns = Ns::kHtml;
  }
}

void Document::start_known(std::string_view tag, ElementKind kind, Attrs attrs) {
  start_trusted(tag, kind);
  for (const Attr& a : attrs) write_attr(a.name, a.value);
}

void Document::end() {
  if (stack_.empty()) throw Error("end(): no element is open");
  end_no_flush();
  maybe_flush();
}

void Document::end_no_flush() {
  const Open top = stack_.back();
  const std::string_view name(names_.data() + top.name_offset, top.name_size);
  if (pending_ == Pending::kElement) {
    // Empty element: "<div" becomes "<div></div>".
    char* p = buf_.prepare(name.size() + 4);
    p[0] = '>';
    p[1] = '<';
    p[2] = '/';
    std::memcpy(p + 3, name.data(), name.size());
    p[3 + name.size()] = '>';
    buf_.commit(name.size() + 4);
    pending_ = Pending::kNone;
  } else {
    close_pending();
    char* p = buf_.prepare(name.size() + 3);
    p[0] = '<';
    p[1] = '/';
    std::memcpy(p + 2, name.data(), name.size());
    p[2 + name.size()] = '>';
    buf_.commit(name.size() + 3);
  }
  stack_.pop_back();
  names_.resize(top.name_offset);
}

void Document::close_guard(std::uint64_t serial) noexcept {
  if (stack_.empty() || stack_.back().serial != serial) {
    broken_ = true;
    return;
  }
  // A guard's destructor must not throw: no flushing here (the next write flushes), and an
  // allocation failure marks the document broken.
  try {
    end_no_flush();
  } catch (...) {
    broken_ = true;
  }
}

Element Document::open(std::string_view tag, Attrs attrs) {
  start(tag, attrs);
  if (pending_ == Pending::kVoid || pending_ == Pending::kForeignVoid) {
    throw Error("<" + std::string(tag) +
                "> is a void element: it has no content, write it with start() or leaf()");
  }
  return Element(this, stack_.back().serial);
}

void Document::leaf(std::string_view tag, std::string_view text_content, Attrs attrs) {
  validate_tag_name(tag);
  for (const Attr& a : attrs) validate_attr_name(a.name);
  leaf_known(tag, element_kind(tag, options_.etree_voids), text_content, attrs);
}

void Document::leaf_known(std::string_view tag, ElementKind kind, std::string_view text_content,
                          Attrs attrs) {
  if (kind == ElementKind::kVoid) {
    throw Error("<" + std::string(tag) + "> is a void element and cannot contain text");
  }
  const Checkpoint mark = checkpoint();
  try {
    start_known(tag, kind, attrs);
    write_text(text_content);
  } catch (...) {
    rollback(mark);  // leave the document as it was before the call
    throw;
  }
  end();
}

// ---- attributes -------------------------------------------------------------------------

void Document::no_element_for_attributes(std::string_view what) const {
  if (stack_.empty()) {
    throw Error(std::string(what) + ": no element is open to take attributes");
  }
  const Open& top = stack_.back();
  throw Error(std::string(what) + ": <" +
              std::string(names_.data() + top.name_offset, top.name_size) +
              "> already has content; attributes must be set before its first child");
}

Document::AttrSpan Document::find_attr(std::string_view name) const noexcept {
  // Parses the pending start tag, which this class wrote: "<tag" then " name" or
  // " name=\"value\"" items, values never containing a raw '"'.
  AttrSpan span;
  const char* d = buf_.data();
  const std::size_t end = buf_.size();
  std::size_t i = pending_start_ + 1;
  while (i < end && d[i] != ' ') ++i;
  while (i < end) {
    const std::size_t begin = i;  // at ' '
    std::size_t j = i + 1;
    while (j < end && d[j] != '=' && d[j] != ' ') ++j;
    const std::string_view n(d + begin + 1, j - begin - 1);
    std::size_t vb = 0;
    std::size_t ve = 0;
    if (j < end && d[j] == '=') {
      vb = j + 2;  // skip ="
      ve = vb;
      while (ve < end && d[ve] != '"') ++ve;
      j = ve + 1;
    }
    if (n == name) {
      span = AttrSpan{begin, j, vb, ve, true};
      return span;
    }
    i = j;
  }
  return span;
}

void Document::write_attr(std::string_view name, const AttrValue& value) {
  using T = AttrValue::Type;
  if (value.type() == T::kOmit) return;
  char* p = buf_.prepare(name.size() + 3);
  p[0] = ' ';
  std::memcpy(p + 1, name.data(), name.size());
  if (value.type() == T::kBare) {
    buf_.commit(name.size() + 1);
    return;
  }
  p[1 + name.size()] = '=';
  p[2 + name.size()] = '"';
  buf_.commit(name.size() + 3);
  switch (value.type()) {
    case T::kText:
      escape::append(buf_, value.text(), options_.attr_escape);
      break;
    case T::kInt:
      append_int(buf_, value.int_value());
      break;
    case T::kFloat:
      append_float(buf_, value.float_value());
      break;
    default:
      break;
  }
  buf_.push_back('"');
}

void Document::attr(std::string_view name, const AttrValue& value) {
  validate_attr_name(name);
  attr_trusted(name, value);
}

void Document::attr_trusted(std::string_view name, const AttrValue& value) {
  if (pending_ == Pending::kNone) no_element_for_attributes("attr(" + std::string(name) + ")");
  const AttrSpan old = find_attr(name);
  if (!old.found) {
    write_attr(name, value);
    return;
  }
  // Replace in place, keeping the attribute's position.
  Buffer tmp(64);
  std::swap(tmp, buf_);
  write_attr(name, value);
  std::swap(tmp, buf_);
  buf_.erase(old.begin, old.end - old.begin);
  buf_.insert(old.begin, tmp.view());
}

void Document::remove_attr(std::string_view name) {
  if (pending_ == Pending::kNone)
    no_element_for_attributes("remove_attr(" + std::string(name) + ")");
  const AttrSpan old = find_attr(name);
  if (old.found) buf_.erase(old.begin, old.end - old.begin);
}

void Document::classes(std::string_view names) {
  if (pending_ == Pending::kNone) no_element_for_attributes("classes()");
  AttrSpan cls = find_attr("class");
  std::size_t i = 0;
  while (i < names.size()) {
    while (i < names.size() && (names[i] == ' ' || names[i] == '\t' || names[i] == '\n' ||
                                names[i] == '\f' || names[i] == '\r')) {
      ++i;
    }
    std::size_t j = i;
    while (j < names.size() && names[j] != ' ' && names[j] != '\t' && names[j] != '\n' &&
           names[j] != '\f' && names[j] != '\r') {
      ++j;
    }
    if (j == i) break;
    const std::string_view token = names.substr(i, j - i);
    i = j;
    Buffer esc(token.size() + 16);
    escape::append(esc, token, options_.attr_escape);
    if (!cls.found) {
      // No class attribute yet: write one at the end of the start tag.
      const std::size_t begin = buf_.size();
      buf_.append(" class=\"");
      buf_.append(esc.view());
      buf_.push_back('"');
      cls = AttrSpan{begin, buf_.size(), begin + 8, buf_.size() - 1, true};
      continue;
    }
    // Duplicate check against the existing (escaped) tokens.
    const std::string_view existing(buf_.data() + cls.value_begin, cls.value_end - cls.value_begin);
    bool dup = false;
    std::size_t k = 0;
    while (k < existing.size() && !dup) {
      std::size_t e = existing.find(' ', k);
      if (e == std::string_view::npos) e = existing.size();
      dup = existing.substr(k, e - k) == esc.view();
      k = e + 1;
    }
    if (dup) continue;
    std::string piece;
    if (!existing.empty()) piece.push_back(' ');
    piece.append(esc.view());
    buf_.insert(cls.value_end, piece);
    cls.value_end += piece.size();
    cls.end += piece.size();
  }
}

// ---- content ----------------------------------------------------------------------------

void Document::check_raw_text(std::size_t from) {
  const Open& top = stack_.back();
  const std::string_view name(names_.data() + top.name_offset, top.name_size);
  const bool script = (top.flags & kScript) != 0;
  // Look for "</name" (and in a script "<!--" and "<script"), ASCII case-insensitive, starting a
  // few bytes before the new text so that a sequence split across two writes is caught too.
  const std::size_t longest = name.size() + 2 > 7 ? name.size() + 2 : 7;
  const std::size_t back = longest - 1;
  const std::size_t start = from >= top.content_start + back ? from - back : top.content_start;
  const char* d = buf_.data();
  const std::size_t end = buf_.size();
  std::string lname(name);
  for (char& c : lname) c = lower(c);
  for (std::size_t i = start; i < end; ++i) {
    const void* hit = std::memchr(d + i, '<', end - i);
    if (hit == nullptr) break;
    i = static_cast<std::size_t>(static_cast<const char*>(hit) - d);
    const std::size_t rest = end - i;
    std::size_t len = 0;
    const char* rule = nullptr;
    if (rest >= name.size() + 2 && d[i + 1] == '/' && imatch(d + i + 2, lname)) {
      len = name.size() + 2;
      rule = "it would end the element early";
    } else if (script && rest >= 4 && std::memcmp(d + i, "<!--", 4) == 0) {
      len = 4;
      rule =
          "in a script it makes a parser enter the script data escaped state, where a later "
          "'<script' hides the real '</script>' and the rest of the page becomes script; in a "
          "JavaScript string write '\\x3C!--'";
    } else if (script && rest >= 7 && imatch(d + i + 1, "script")) {
      len = 7;
      rule =
          "in a script it can make a parser ignore the next '</script>' (script data "
          "double-escaped state) and treat the rest of the page as script; in a JavaScript "
          "string write '\\x3Cscript'";
    }
    if (rule == nullptr) continue;
    const std::size_t ctx_begin = i >= top.content_start + 24 ? i - 24 : top.content_start;
    const std::size_t ctx_end = end - i > len + 24 ? i + len + 24 : end;
    std::string what(d + i, len);
    for (char& c : what) c = lower(c);
    std::string message =
        "<" + std::string(name) + "> content may not contain " + quote_for_message(what) +
        " (any case; found " + quote_for_message(std::string_view(d + i, len)) + " in " +
        quote_for_message(std::string_view(d + ctx_begin, ctx_end - ctx_begin)) + "): " + rule;
    buf_.resize_down(from);
    throw Error(message);
  }
}

void Document::write_text(std::string_view s) {
  if (!stack_.empty() && (stack_.back().flags & kSlow) != 0) [[unlikely]] {
    write_text_slow(s, false);
    return;
  }
  close_pending();
  if (s.empty()) return;
  escape::append(buf_, s, escape::Mode::kText);
}

void Document::write_raw(std::string_view html) {
  if (!stack_.empty() && (stack_.back().flags & kSlow) != 0) [[unlikely]] {
    write_text_slow(html, true);
    return;
  }
  close_pending();
  buf_.append(html);
}

void Document::write_text_slow(std::string_view s, bool markup) {
  if ((stack_.back().flags & kDecide) != 0) decide_annotation_ns();
  close_pending();
  if (s.empty()) return;
  Open& top = stack_.back();
  const std::size_t from = buf_.size();
  // A parser drops one newline right after <pre>, <textarea> and <listing>: write one more.
  if ((top.flags & kLfFresh) != 0 && s[0] == '\n') buf_.push_back('\n');
  if ((top.flags & kRaw) != 0) {
    append_replacing_nul(buf_, s);
    check_raw_text(from);
  } else if (markup) {
    buf_.append(s);
    if ((top.flags & kRcdata) != 0) check_raw_text(from);
  } else {
    escape::append(buf_, s, escape::Mode::kText);
  }
  top.flags &= static_cast<std::uint8_t>(~kLfFresh);
}

void Document::text(std::string_view s) {
  write_text(s);
  maybe_flush();
}

void Document::finish_leaf(std::string_view content, bool markup) {
  if (stack_.empty()) throw Error("finish_leaf(): no element is open");
  if (markup) {
    write_raw(content);
  } else {
    write_text(content);
  }
  end();  // flushes only once the element is complete
}

void Document::text_int(std::int64_t v) {
  if (!stack_.empty() && (stack_.back().flags & kSlow) != 0) content_slow({});
  close_pending();
  append_int(buf_, v);
}

void Document::text_float(double v) {
  if (!stack_.empty() && (stack_.back().flags & kSlow) != 0) content_slow({});
  close_pending();
  append_float(buf_, v);
}

void Document::raw(std::string_view html) {
  write_raw(html);
  maybe_flush();
}

void Document::doctype() {
  close_pending();
  buf_.append("<!doctype html>");
}

void Document::json_text(std::string_view json) {
  // Inside JSON, < > & and the two line separators only occur in strings, where \uXXXX means
  // the same character: the JSON value is unchanged and the script text has no '<' at all.
  std::string out;
  out.reserve(json.size() + 16);
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    switch (c) {
      case '<':
        out.append("\\u003c");
        break;
      case '>':
        out.append("\\u003e");
        break;
      case '&':
        out.append("\\u0026");
        break;
      case '\0':
        out.append("\\u0000");
        break;
      case '\xE2':
        // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 (line terminators in older JavaScript).
        if (i + 2 < json.size() && json[i + 1] == '\x80' &&
            (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
          out.append(json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029");
          i += 2;
          break;
        }
        out.push_back(c);
        break;
      default:
        out.push_back(c);
    }
  }
  write_text(out);
  maybe_flush();
}

void Document::script_json(std::string_view json, Attrs attrs) {
  const Checkpoint mark = checkpoint();
  start_known("script", ElementKind::kRawText, attrs);
  try {
    json_text(json);
  } catch (...) {
    rollback(mark);
    throw;
  }
  end();
}

void Document::clear_content() {
  if (stack_.empty()) throw Error("clear(): no element is open");
  if (pending_ != Pending::kNone) {
    if (pending_ == Pending::kElement) return;  // nothing written inside yet
    buf_.resize_down(pending_start_);           // a void element just written inside
    pending_ = Pending::kNone;
    --elements_;
  }
  buf_.resize_down(stack_.back().content_start);
  if ((stack_.back().flags & kLfElement) != 0) stack_.back().flags |= kLfFresh;
}

bool Document::attr_value(std::string_view name, std::string_view& value) const noexcept {
  if (pending_ == Pending::kNone) return false;
  const AttrSpan span = find_attr(name);
  if (!span.found) return false;
  value = std::string_view(buf_.data() + span.value_begin, span.value_end - span.value_begin);
  return true;
}

void Document::rollback(const Checkpoint& c) noexcept {
  if (streamed_ != c.streamed) {
    broken_ = true;
    return;
  }
  buf_.resize_down(c.size);
  while (stack_.size() > c.depth) stack_.pop_back();
  names_.resize(c.names);
  pending_start_ = c.pending_start;
  elements_ = c.elements;
  pending_ = static_cast<Pending>(c.pending);
  if (!stack_.empty() && stack_.size() == c.depth) {
    stack_.back().flags = c.top_flags;
    stack_.back().ns = static_cast<Ns>(c.top_ns);
  }
}

// ---- state and output -------------------------------------------------------------------

std::string_view Document::open_tag(std::size_t i) const noexcept {
  const Open& o = stack_[i];
  return {names_.data() + o.name_offset, o.name_size};
}

std::string Document::describe_open() const {
  std::string out;
  for (std::size_t i = 0; i < stack_.size(); ++i) {
    if (i != 0) out.push_back(' ');
    out.push_back('<');
    out.append(open_tag(i));
    out.push_back('>');
  }
  return out;
}

std::string_view Document::view() {
  if (broken_) throw Error("element guards were destroyed out of order; the document is invalid");
  if (!stack_.empty()) throw Error("unclosed tags: " + describe_open());
  close_pending();
  return buf_.view();
}

std::string Document::take() {
  std::string out(view());
  clear();
  return out;
}

void Document::clear() noexcept {
  buf_.clear();
  stack_.clear();
  names_.clear();
  pending_ = Pending::kNone;
  broken_ = false;
  elements_ = 0;
}

// ---- streaming ----------------------------------------------------------------------------

void Document::stream_to(Sink sink, std::size_t threshold) {
  sink_ = std::move(sink);
  threshold_ = threshold == 0 ? 1 : threshold;
}

std::size_t Document::flushable() const noexcept {
  std::size_t limit = pending_ != Pending::kNone ? pending_start_ : buf_.size();
  // Keep the content of an open script/style element: the end-tag check looks back into it.
  if (!stack_.empty() && (stack_.back().flags & (kRaw | kRcdata)) != 0 &&
      stack_.back().content_start < limit) {
    limit = stack_.back().content_start;
  }
  return limit;
}

void Document::flush(bool final) {
  if (!sink_) throw Error("flush(): no sink; call stream_to() first");
  if (broken_) throw Error("the document is invalid (an operation could not be undone)");
  if (final) {
    if (!stack_.empty()) throw Error("unclosed tags: " + describe_open());
    close_pending();
  }
  const std::size_t n = flushable();
  if (n == 0) return;
  sink_(std::string_view(buf_.data(), n));
  streamed_ += n;
  buf_.consume_front(n);
  if (pending_ != Pending::kNone) pending_start_ -= n;
  for (Open& o : stack_) o.content_start = o.content_start >= n ? o.content_start - n : 0;
}

}  // namespace tagflow
