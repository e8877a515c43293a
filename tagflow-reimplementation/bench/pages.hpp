// The five shared scenarios (tagflow-vs-jinja-benchmark's html_bench.scenarios), data and
// page code, built from C++ directly: the ceiling for what the Python binding can reach.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tagflow/document.hpp"

namespace tagflow::pages {

struct Link {
  std::string label, href;
};
struct Card {
  std::string title, body, date, author;
};
struct Row {
  std::int64_t id;
  std::string name, email, department;
  std::int64_t salary;
};
struct Comment {
  std::string author, url, tooltip, text;
  std::int64_t score;
};

struct SimpleData {
  std::string title = "Simple Page", heading = "Welcome to the simple page";
  std::vector<std::string> paragraphs = {
      "This page has a header, a main section with two paragraphs, and a footer.",
      "It is the smallest scenario: twelve elements and five text nodes."};
  std::string footer = "Built for the HTML generation benchmark.";
};

inline constexpr const char* kComplexCss =
    "body{font-family:system-ui,sans-serif;margin:0}"
    ".nav>ul{display:flex;gap:1rem;list-style:none}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem}"
    ".card{border:1px solid #ddd;border-radius:4px;padding:1rem}"
    ".meta{color:#666;font-size:.8em}";

struct ComplexData {
  std::string title = "Complex Page";
  std::vector<Link> nav = {
      {"Home", "/"}, {"Articles", "/articles"}, {"About", "/about"}, {"Contact", "/contact"}};
  std::string heading = "Latest articles",
              subtitle = "Five cards in a grid, a sidebar and a footer", section_title = "Featured";
  std::vector<Card> cards;
  std::string aside_title = "Related";
  std::vector<Link> links = {{"Archive", "/archive"}, {"Tags", "/tags"}, {"Feed", "/feed.xml"}};
  std::string footer = "Copyright 2025 Example Inc.";
  ComplexData() {
    for (int i = 1; i <= 5; ++i) {
      const std::string n = std::to_string(i);
      cards.push_back(
          {"Article " + n,
           "A short summary of article number " + n + ", long enough to be a paragraph.",
           std::string("2025-01-") + (i < 10 ? "0" : "") + n, "Author " + n});
    }
  }
};

struct TableData {
  std::string title = "Employee Directory", heading;
  std::vector<std::string> columns = {"ID", "Name", "Email", "Department", "Salary"};
  std::vector<Row> rows;
  explicit TableData(int n) : heading("Employees (" + std::to_string(n) + ")") {
    for (int i = 0; i < n; ++i) {
      const std::string s = std::to_string(i);
      rows.push_back({i + 1, "Employee " + s, "emp" + s + "@company.com",
                      "Dept " + std::to_string(i % 5), 50000 + (i * 1000) % 100000});
    }
  }
};

struct EscapingData {
  std::string title = "Q&A: \"<escaping>\" & 'quotes'";
  std::string user_name = "Zo\u00eb \"Z\" O'Brien <admin> & co";
  std::string user_bio = "Writes <b>bold</b> claims & \"quoted\" notes; caf\u00e9 \u2615";
  std::string user_homepage = "https://example.com/profile?name=zo%C3%AB&tab=posts&sort=<new>";
  std::vector<Comment> comments;
  EscapingData() {
    const char* texts[] = {
        "I <3 this & that, but <script>alert('xss')</script> is not welcome.",
        "He said \"use &amp; for an ampersand\" and left.",
        "\u00dcn\u00efc\u00f6d\u00e9: na\u00efve caf\u00e9, \u65e5\u672c\u8a9e, "
        "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac, emoji \U0001F389 \u2014 and a < b > c.",
        "Already-escaped looking text: &lt;b&gt; must stay literal, as must &copy; and &#39;.",
        "Quotes ' and \" next to each other: '\"'\"'"};
    for (int i = 0; i < 20; ++i) {
      const std::string s = std::to_string(i);
      comments.push_back({"user<" + s + "> & \"friend\" 'o'",
                          "https://example.com/u?id=" + s + "&lang=fr&copy=1&q=\"<x>\"",
                          "Posted by \"user " + s + "\" & it's <fine> &amp; done", texts[i % 5],
                          i * 7 - 30});
    }
  }
};

// "$50,000"
inline std::string money(std::int64_t v) {
  std::string digits = std::to_string(v);
  std::string out = "$";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

inline void simple(Document& doc, const SimpleData& d) {
  doc.doctype();
  auto html = doc.html();
  {
    auto head = doc.head();
    doc.title(d.title);
    doc.meta({{"charset", "utf-8"}});
  }
  auto body = doc.body();
  {
    auto header = doc.header();
    doc.h1(d.heading);
  }
  {
    auto main = doc.main();
    for (const auto& p : d.paragraphs) doc.p(p);
  }
  auto footer = doc.footer();
  doc.p(d.footer);
}

inline void link_list(Document& doc, const std::vector<Link>& links) {
  auto ul = doc.ul();
  for (const auto& l : links) {
    auto li = doc.li();
    doc.a(l.label, {{"href", l.href}});
  }
}

inline void complex(Document& doc, const ComplexData& d) {
  doc.doctype();
  auto html = doc.html({{"lang", "en"}});
  {
    auto head = doc.head();
    doc.title(d.title);
    doc.meta({{"charset", "utf-8"}});
    doc.meta({{"name", "viewport"}, {"content", "width=device-width, initial-scale=1"}});
    doc.style(kComplexCss);
  }
  auto body = doc.body();
  {
    auto nav = doc.nav({{"class", "nav"}});
    link_list(doc, d.nav);
  }
  {
    auto header = doc.header();
    doc.h1(d.heading);
    doc.p(d.subtitle, {{"class", "subtitle"}});
  }
  {
    auto main = doc.main();
    auto section = doc.section({{"id", "content"}});
    doc.h2(d.section_title);
    auto grid = doc.div({{"class", "grid"}});
    for (const auto& c : d.cards) {
      auto article = doc.article({{"class", "card"}});
      doc.h3(c.title);
      doc.p(c.body);
      auto meta = doc.div({{"class", "meta"}});
      doc.span(c.date, {{"class", "date"}});
      doc.span(c.author, {{"class", "author"}});
    }
  }
  {
    auto aside = doc.aside();
    doc.h3(d.aside_title);
    link_list(doc, d.links);
  }
  auto footer = doc.footer();
  doc.p(d.footer);
}

inline void table(Document& doc, const TableData& d) {
  doc.doctype();
  auto html = doc.html();
  {
    auto head = doc.head();
    doc.title(d.title);
  }
  auto body = doc.body();
  doc.h1(d.heading);
  auto table = doc.table();
  {
    auto thead = doc.thead();
    auto tr = doc.tr();
    for (const auto& c : d.columns) doc.th(c);
  }
  auto tbody = doc.tbody();
  char num[24];
  for (const auto& r : d.rows) {
    auto tr = doc.tr();
    const int n = std::snprintf(num, sizeof num, "%lld", static_cast<long long>(r.id));
    doc.td(std::string_view(num, static_cast<std::size_t>(n)));
    doc.td(r.name);
    doc.td(r.email);
    doc.td(r.department);
    doc.td(money(r.salary));
  }
}

inline void escaping(Document& doc, const EscapingData& d) {
  doc.doctype();
  auto html = doc.html({{"lang", "en"}});
  {
    auto head = doc.head();
    doc.meta({{"charset", "utf-8"}});
    doc.title(d.title);
  }
  auto body = doc.body();
  doc.h1(d.title);
  {
    auto profile = doc.div({{"class", "profile"}, {"data-name", d.user_name}});
    doc.attr("title", d.user_bio);
    doc.h2(d.user_name);
    doc.p(d.user_bio);
    doc.a(d.user_homepage, {{"href", d.user_homepage}});
  }
  auto ul = doc.ul({{"class", "comments"}});
  for (const auto& c : d.comments) {
    const std::string score = std::to_string(c.score);
    auto li = doc.li({{"title", c.tooltip}, {"data-score", score}});
    doc.a(c.author, {{"href", c.url}});
    doc.p(c.text);
    doc.span(score, {{"class", "score"}});
  }
}

}  // namespace tagflow::pages
