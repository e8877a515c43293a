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

}  // namespace

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
    throw Error("invalid tag name '" + std::string(name) +
                "': use an ASCII letter followed by letters, digits, '-', '_', '.' or ':'");
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
    throw Error("invalid attribute name '" + std::string(name) +
                "': names may not be empty or contain whitespace, quotes, < > / = or control "
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
  if (!stack_.empty() && stack_.back().kind == ElementKind::kRawText) {
    throw Error("<" + std::string(tag) + "> inside <" + std::string(open_tag(depth() - 1)) +
                ">: script and style elements hold raw text only");
  }
  close_pending();
  pending_start_ = buf_.size();
  char* p = buf_.prepare(tag.size() + 1);
  p[0] = '<';
  std::memcpy(p + 1, tag.data(), tag.size());
  buf_.commit(tag.size() + 1);
  ++elements_;
  if (kind == ElementKind::kVoid) {
    pending_ = Pending::kVoid;
    return;
  }
  pending_ = Pending::kElement;
  stack_.push_back(Open{static_cast<std::uint32_t>(names_.size()),
                        static_cast<std::uint32_t>(tag.size()), kind, 0, ++serial_});
  names_.append(tag);
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
  if (pending_ == Pending::kVoid) {
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
  const std::size_t mark = buf_.size();
  const Pending saved_pending = pending_;
  start_known(tag, kind, attrs);
  try {
    write_text(text_content);
  } catch (...) {
    // Leave the document as it was before the call.
    names_.resize(stack_.back().name_offset);
    stack_.pop_back();
    buf_.resize_down(mark);
    pending_ = saved_pending;
    --elements_;
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
  // Look for "</name" (ASCII case-insensitive) in the element's content, starting a few bytes
  // before the new text so that an end tag split across two writes is caught too.
  const std::size_t look = name.size() + 2;
  std::size_t i = from >= top.content_start + look ? from - look + 1 : top.content_start;
  const char* d = buf_.data();
  for (; i + look <= buf_.size(); ++i) {
    if (d[i] != '<' || d[i + 1] != '/') continue;
    bool match = true;
    for (std::size_t k = 0; k < name.size() && match; ++k) {
      match = lower(d[i + 2 + k]) == lower(name[k]);
    }
    if (match) {
      buf_.resize_down(from);
      throw Error("<" + std::string(name) + "> content may not contain '</" + std::string(name) +
                  "' (it would end the element early)");
    }
  }
}

void Document::write_text(std::string_view s) {
  close_pending();
  if (s.empty()) return;
  if (!stack_.empty() && stack_.back().kind == ElementKind::kRawText) {
    const std::size_t from = buf_.size();
    buf_.append(s);
    check_raw_text(from);
  } else {
    escape::append(buf_, s, escape::Mode::kText);
  }
}

void Document::write_raw(std::string_view html) {
  close_pending();
  const std::size_t from = buf_.size();
  buf_.append(html);
  if (!stack_.empty() && stack_.back().kind == ElementKind::kRawText) check_raw_text(from);
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
  close_pending();
  append_int(buf_, v);
}

void Document::text_float(double v) {
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

void Document::clear_content() {
  if (stack_.empty()) throw Error("clear(): no element is open");
  if (pending_ != Pending::kNone) {
    if (pending_ == Pending::kElement) return;  // nothing written inside yet
    buf_.resize_down(pending_start_);           // a void element just written inside
    pending_ = Pending::kNone;
    --elements_;
  }
  buf_.resize_down(stack_.back().content_start);
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
  if (!stack_.empty() && stack_.back().kind == ElementKind::kRawText &&
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
