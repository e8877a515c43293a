#include "http.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace echo::http {
namespace {

constexpr std::string_view kEnd = "\r\n\r\n";

// Up to 60 characters of s, with non-printable bytes escaped, for error messages.
std::string quoted(std::string_view s) {
  std::string out = "'";
  for (const char ch : s.substr(0, 60)) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += ch;
    }
  }
  if (s.size() > 60) out += "...";
  return out + "'";
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only, at most 18 of them (no sign, no overflow); false otherwise.
bool parse_size(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 18) return false;
  std::uint64_t v = 0;
  for (const char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  out = v;
  return true;
}

[[noreturn]] void malformed(const std::string& what) {
  throw Error(what, false);
}

}  // namespace

std::string request(std::uint64_t size, std::string_view host_port) {
  return request("/" + std::to_string(size), host_port);
}

std::string request(std::string_view target, std::string_view host_port) {
  std::string r = "GET ";
  r += target;
  r += " HTTP/1.1\r\nHost: ";
  r += host_port;
  r += kEnd;
  return r;
}

std::string bad_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return "must start with '/'";
  if (target.size() > 2048) return "is longer than 2048 bytes";
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return "may hold only printable ASCII without spaces";
  }
  return "";
}

void check_response_head(std::string_view head, std::uint64_t body_size) {
  std::size_t eol = head.find("\r\n");
  const std::string_view status = head.substr(0, eol);
  const auto digit = [&](std::size_t i) { return status[i] >= '0' && status[i] <= '9'; };
  if (status.size() < 12 || status.substr(0, 9) != "HTTP/1.1 " || !digit(9) || !digit(10) ||
      !digit(11) || (status.size() > 12 && status[12] != ' ')) {
    malformed("status line " + quoted(status) + " is not 'HTTP/1.1 <code> <reason>'");
  }
  if (status.substr(9, 3) != "200") malformed("status " + quoted(status) + ", expected 200");
  bool have_length = false;
  std::uint64_t length = 0;
  for (std::size_t at = eol + 2; at < head.size();) {
    eol = head.find("\r\n", at);
    if (eol == std::string_view::npos) malformed("header line without \\r\\n");
    const std::string_view line = head.substr(at, eol - at);
    at = eol + 2;
    if (line.empty()) break;  // the blank line that ends the head
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      malformed("malformed header line " + quoted(line));
    }
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::uint64_t v = 0;
      if (!parse_size(value, v)) malformed("bad Content-Length " + quoted(value));
      if (have_length && v != length) malformed("two different Content-Length headers");
      have_length = true;
      length = v;
    } else if (iequals(name, "transfer-encoding")) {
      malformed("Transfer-Encoding " + quoted(value) +
                " is not supported: the body must come with a Content-Length");
    } else if (iequals(name, "connection") && value.size() >= 5) {
      for (std::size_t i = 0; i + 5 <= value.size(); ++i) {
        if (iequals(value.substr(i, 5), "close")) {
          malformed("the server announced Connection: close (keep-alive is required)");
        }
      }
    }
  }
  if (!have_length) malformed("response without a Content-Length header");
  if (length != body_size) {
    malformed("Content-Length " + std::to_string(length) + ", expected " +
              std::to_string(body_size));
  }
}

std::uint64_t ResponseReader::feed(const unsigned char* p, std::size_t n) {
  std::uint64_t done = 0;
  while (n > 0) {
    if (!in_body_) {
      const std::string_view chunk(reinterpret_cast<const char*>(p), n);
      std::size_t used = 0;
      if (head_.empty()) {
        const std::size_t end = chunk.find(kEnd);
        if (end != std::string_view::npos && end + kEnd.size() <= kMaxHead) {
          used = end + kEnd.size();
          check_response_head(chunk.substr(0, used), size_);
        }
      }
      if (used == 0) {  // the head spans reads: gather it in head_
        const std::size_t before = head_.size();
        const std::size_t take = std::min(n, kMaxHead + 1 - before);
        head_.append(chunk.substr(0, take));
        const std::size_t end = head_.find(kEnd, before < 3 ? 0 : before - 3);
        if (end == std::string::npos) {
          if (head_.size() > kMaxHead) {
            malformed("response head longer than " + std::to_string(kMaxHead) +
                      " bytes without its end (\\r\\n\\r\\n), starting " + quoted(head_));
          }
          return done;  // everything consumed, the rest comes later
        }
        used = end + kEnd.size() - before;
        head_.resize(end + kEnd.size());
        check_response_head(head_, size_);
        head_.clear();
      }
      p += used;
      n -= used;
      in_body_ = true;
      body_off_ = 0;
    }
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - body_off_));
    if (std::memcmp(p, expected_ + body_off_, take) != 0) {
      std::size_t i = 0;
      while (p[i] == expected_[body_off_ + i]) ++i;
      char msg[96];
      std::snprintf(msg, sizeof msg, "body byte %llu is 0x%02x, expected 0x%02x",
                    static_cast<unsigned long long>(body_off_ + i), p[i], expected_[body_off_ + i]);
      throw Error(msg, true);
    }
    body_off_ += take;
    p += take;
    n -= take;
    if (body_off_ == size_) {
      in_body_ = false;
      ++done;
    }
  }
  return done;
}

Parsed parse_request(std::string_view buf) noexcept {
  Parsed out;
  const std::size_t end = buf.find(kEnd);
  if (end == std::string_view::npos) {
    if (buf.size() > kMaxHead) {
      out.status = Parsed::Status::Bad;
      out.reason = "request head too long";
    }
    return out;
  }
  const std::string_view line = buf.substr(0, buf.find("\r\n"));
  constexpr std::string_view kGet = "GET /", kVersion = " HTTP/1.1";
  out.status = Parsed::Status::Bad;
  if (line.size() <= kGet.size() + kVersion.size() || line.substr(0, kGet.size()) != kGet ||
      line.substr(line.size() - kVersion.size()) != kVersion) {
    out.reason = "not 'GET /<size> HTTP/1.1'";
    return out;
  }
  const std::string_view digits =
      line.substr(kGet.size(), line.size() - kGet.size() - kVersion.size());
  if (!parse_size(digits, out.size) || out.size > kMaxBody) {
    out.reason = "the path must be /<size>, size 0..67108864";
    return out;
  }
  out.status = Parsed::Status::Ok;
  out.consumed = end + kEnd.size();
  return out;
}

void append_response(std::string& out, std::uint64_t size) {
  static const auto kAlphabet = [] {
    std::array<char, 4096 + 26> a{};  // 4096 + 26: any offset mod 26 has 4096 bytes after it
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<char>(body_byte(i));
    return a;
  }();
  char head[80];
  const int n = std::snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
                              static_cast<unsigned long long>(size));
  out.append(head, static_cast<std::size_t>(n));
  for (std::uint64_t off = 0; off < size;) {
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(4096, size - off));
    out.append(kAlphabet.data() + off % 26, take);
    off += take;
  }
}

std::string_view bad_request() noexcept {
  return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

}  // namespace echo::http
