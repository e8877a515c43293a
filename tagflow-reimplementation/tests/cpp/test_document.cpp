#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "tagflow/document.hpp"

using tagflow::Document;
using tagflow::Error;

TEST(TagflowDocument, NestingWithGuards) {
  Document doc;
  doc.doctype();
  {
    auto html = doc.html({{"lang", "en"}});
    auto body = doc.body();
    {
      auto card = doc.div({{"class", "card"}, {"id", 7}});
      doc.h2("Title & more");
      doc.text("a < b");
    }
    doc.p("x", {{"hidden", true}, {"title", nullptr}, {"draggable", false}});
  }
  EXPECT_EQ(doc.take(),
            "<!doctype html><html lang=\"en\"><body><div class=\"card\" id=\"7\"><h2>Title &amp; "
            "more</h2>a &lt; b</div><p hidden>x</p></body></html>");
}

TEST(TagflowDocument, EmptyElementsAreClosed) {
  Document doc;
  { auto d = doc.div(); }
  doc.start("span");
  doc.end();
  EXPECT_EQ(doc.take(), "<div></div><span></span>");
}

TEST(TagflowDocument, VoidElementsAreNeverClosed) {
  Document doc;
  {
    auto head = doc.head();
    doc.meta({{"charset", "utf-8"}});
    doc.br();
    doc.start("IMG", {{"src", "a.png"}});
  }
  EXPECT_EQ(doc.take(), "<head><meta charset=\"utf-8\"><br><IMG src=\"a.png\"></head>");
  EXPECT_THROW(doc.leaf("br", "text"), Error);
  EXPECT_THROW((void)doc.open("hr"), Error);
}

TEST(TagflowDocument, EveryVoidElementOfTheHtmlStandardIsVoid) {
  // HTML Living Standard, 13.1.2 Elements, "Void elements" (param is obsolete but still void
  // to parsers); checked name by name so a missing entry names itself.
  for (const char* name : {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                           "meta", "param", "source", "track", "wbr"}) {
    EXPECT_EQ(tagflow::element_kind(name), tagflow::ElementKind::kVoid) << name;
  }
  for (const char* name : {"colgroup", "div", "p", "template", "basefont"}) {
    EXPECT_EQ(tagflow::element_kind(name), tagflow::ElementKind::kNormal) << name;
  }
}

TEST(TagflowDocument, ElementKindByNameIsTheTableKind) {
  // doc.open(name) looks the kind up by name; doc.br() etc. have it compiled in from the table.
  for (const auto& e : tagflow::kElements) {
    std::string upper(e.name);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(tagflow::element_kind(e.name), e.kind) << e.name;
    EXPECT_EQ(tagflow::element_kind(upper), e.kind) << upper;
  }
}

TEST(TagflowDocument, AttributesOfVoidElementUntilNextSibling) {
  Document doc;
  doc.input({{"type", "text"}});
  doc.attr("name", "q");
  doc.br();
  EXPECT_EQ(doc.take(), "<input type=\"text\" name=\"q\"><br>");
}

TEST(TagflowDocument, AttributeValuesAreEscaped) {
  Document doc;
  doc.leaf("a", "x", {{"href", "/?a=1&b=\"2\"<'3'>"}});
  EXPECT_EQ(doc.take(), "<a href=\"/?a=1&amp;b=&quot;2&quot;&lt;&#39;3&#39;&gt;\">x</a>");
}

TEST(TagflowDocument, NumbersAsAttributesAndText) {
  Document doc;
  {
    auto d = doc.div({{"data-n", -42}, {"data-x", 1.5}});
    doc.text(12);
    doc.text(0.25);
  }
  EXPECT_EQ(doc.take(), "<div data-n=\"-42\" data-x=\"1.5\">120.25</div>");
}

TEST(TagflowDocument, AttrReplacesInPlaceAndRemoves) {
  Document doc;
  {
    auto d = doc.div({{"id", "a"}, {"title", "t"}});
    doc.attr("id", "b");
    doc.attr("lang", "en");
    doc.remove_attr("title");
    doc.remove_attr("missing");
  }
  EXPECT_EQ(doc.take(), "<div id=\"b\" lang=\"en\"></div>");
}

TEST(TagflowDocument, ClassesMergeAndDropDuplicates) {
  Document doc;
  {
    auto d = doc.div({{"id", "x"}, {"class", "a b"}, {"title", "t"}});
    doc.classes("b c  a d");
  }
  {
    auto d = doc.div();
    doc.classes("x x y");
  }
  EXPECT_EQ(doc.take(),
            "<div id=\"x\" class=\"a b c d\" title=\"t\"></div><div class=\"x y\"></div>");
}

TEST(TagflowDocument, AttrAfterChildNamesTheElement) {
  Document doc;
  auto d = doc.section();
  doc.p("child");
  try {
    doc.attr("id", "late");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<section>"), std::string::npos) << e.what();
  }
}

TEST(TagflowDocument, AttrWithNothingOpen) {
  Document doc;
  EXPECT_THROW(doc.attr("id", "x"), Error);
  EXPECT_THROW(doc.classes("x"), Error);
}

TEST(TagflowDocument, InvalidNamesAreRejected) {
  Document doc;
  for (const char* bad :
       {"", "a b", "a\"", "a'", "a>", "a/", "a=", "a\x01", "a\t", "a\x7f", "a\xc2\x85"}) {
    EXPECT_THROW(doc.start("div", {{bad, "v"}}), Error) << bad;
    EXPECT_FALSE(tagflow::is_valid_attr_name(bad));
  }
  EXPECT_TRUE(tagflow::is_valid_attr_name("data-x_y:z"));
  EXPECT_TRUE(tagflow::is_valid_attr_name("@click"));
  for (const char* bad : {"", "1div", "di v", "<div", "div>", "-x"}) {
    EXPECT_THROW(doc.start(bad), Error) << bad;
  }
  EXPECT_EQ(doc.depth(), 0U);
  EXPECT_EQ(doc.take(), "");
}

TEST(TagflowDocument, ScriptAndStyleAreRaw) {
  Document doc;
  doc.script("if (a < b && c > d) { x = '</b>'; }");
  doc.style("p > a { content: \"&\"; }");
  EXPECT_EQ(doc.take(),
            "<script>if (a < b && c > d) { x = '</b>'; }</script><style>p > a { content: "
            "\"&\"; }</style>");
}

TEST(TagflowDocument, ClosingTagInsideRawTextIsRejected) {
  Document doc;
  EXPECT_THROW(doc.script("x</script>"), Error);
  EXPECT_THROW(doc.script("x</SCRIPT >"), Error);
  EXPECT_THROW(doc.style("</StYlE"), Error);
  EXPECT_EQ(doc.depth(), 0U);
  EXPECT_EQ(doc.take(), "");  // nothing half-written
  {
    auto s = doc.script();
    doc.text("a <");
    EXPECT_THROW(doc.text("/script"), Error);  // split across two writes
    EXPECT_THROW(doc.raw("</script>"), Error);
    EXPECT_THROW(doc.start("div"), Error);  // no elements inside script
    doc.text("/b");
  }
  EXPECT_EQ(doc.take(), "<script>a </b</script>");
}

TEST(TagflowDocument, UnclosedTagsAreNamed) {
  Document doc;
  doc.start("html");
  doc.start("body");
  try {
    (void)doc.view();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<html> <body>"), std::string::npos) << e.what();
  }
  doc.end();
  doc.end();
  EXPECT_THROW(doc.end(), Error);
  EXPECT_EQ(doc.take(), "<html><body></body></html>");
}

TEST(TagflowDocument, GuardsOutOfOrderMakeTheDocumentInvalid) {
  Document doc;
  {
    auto outer = doc.div();
    auto inner = doc.span();
    doc.end();  // closes span behind the guard's back
    doc.start("p");
  }
  EXPECT_THROW((void)doc.view(), Error);
  doc.clear();
  EXPECT_EQ(doc.take(), "");
}

TEST(TagflowDocument, ClearReusesTheDocument) {
  Document doc;
  doc.leaf("p", "one");
  doc.clear();
  doc.leaf("p", "two");
  EXPECT_EQ(doc.view(), "<p>two</p>");
  EXPECT_EQ(doc.elements_written(), 1U);
}

TEST(TagflowDocument, EtreeVoidsForTagflowCompatibility) {
  EXPECT_EQ(tagflow::element_kind("frame", true), tagflow::ElementKind::kVoid);
  EXPECT_EQ(tagflow::element_kind("frame", false), tagflow::ElementKind::kNormal);
  EXPECT_EQ(tagflow::element_kind("META"), tagflow::ElementKind::kVoid);
  EXPECT_EQ(tagflow::element_kind("Script"), tagflow::ElementKind::kRawText);
}

namespace {
void build_big(Document& doc, int rows) {
  auto table = doc.table();
  for (int i = 0; i < rows; ++i) {
    auto tr = doc.tr({{"class", i % 2 ? "odd" : "even"}});
    doc.td(std::to_string(i));
    doc.td("Employee <" + std::to_string(i) + ">");
  }
}
}  // namespace

TEST(TagflowDocument, StreamingToCallbackMatchesBuffered) {
  Document whole;
  build_big(whole, 2000);
  const std::string expected(whole.view());

  Document doc;
  std::string got;
  std::size_t chunks = 0;
  doc.stream_to(
      [&](std::string_view chunk) {
        got.append(chunk);
        ++chunks;
      },
      1024);
  {
    auto table = doc.table();
    for (int i = 0; i < 2000; ++i) {
      auto tr = doc.tr({{"class", i % 2 ? "odd" : "even"}});
      doc.td(std::to_string(i));
      doc.td("Employee <" + std::to_string(i) + ">");
    }
  }
  doc.flush(true);
  EXPECT_EQ(got, expected);
  EXPECT_GT(chunks, 10U);
  EXPECT_EQ(doc.bytes_streamed(), expected.size());
}

TEST(TagflowDocument, StreamingKeepsMemoryBounded) {
  Document doc;
  std::size_t total = 0;
  doc.stream_to([&](std::string_view chunk) { total += chunk.size(); }, 4096);
  {
    auto ul = doc.ul();
    for (int i = 0; i < 100000; ++i) doc.li("item number " + std::to_string(i));
  }
  doc.flush(true);
  EXPECT_GT(total, 1'000'000U);
  EXPECT_EQ(total, doc.bytes_streamed());
}

TEST(TagflowDocument, StreamingDoesNotFlushAPendingStartTag) {
  Document doc;
  std::string got;
  doc.stream_to([&](std::string_view c) { got.append(c); }, 1);
  {
    auto d = doc.div();
    doc.p("x");
    doc.start("span");
    doc.attr("id", "late-but-allowed");
    doc.end();
  }
  doc.flush(true);
  EXPECT_EQ(got, "<div><p>x</p><span id=\"late-but-allowed\"></span></div>");
}

TEST(TagflowDocument, StreamingToOstreamAndFd) {
  std::ostringstream os;
  {
    Document doc;
    doc.stream_to(tagflow::ostream_sink(os), 8);
    doc.leaf("p", "hello stream");
    doc.flush(true);
  }
  EXPECT_EQ(os.str(), "<p>hello stream</p>");

  std::FILE* tmp = std::tmpfile();
  ASSERT_NE(tmp, nullptr);
  {
    Document doc;
    doc.stream_to(tagflow::fd_sink(fileno(tmp)), 8);
    doc.leaf("p", "to a file descriptor");
    doc.flush(true);
  }
  std::rewind(tmp);
  char buf[64] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf, tmp);
  std::fclose(tmp);
  EXPECT_EQ(std::string(buf, n), "<p>to a file descriptor</p>");
}

TEST(TagflowDocument, FdSinkReportsErrors) {
  Document doc;
  doc.stream_to(tagflow::fd_sink(-1), 1);
  EXPECT_THROW(
      {
        doc.leaf("p", "x");
        doc.flush(true);
      },
      std::system_error);
}

TEST(TagflowDocument, FlushWithoutSinkOrWithOpenTags) {
  Document doc;
  EXPECT_THROW(doc.flush(), Error);
  doc.stream_to([](std::string_view) {});
  doc.start("div");
  EXPECT_THROW(doc.flush(true), Error);
}

TEST(TagflowDocument, StreamingFlushesLeavesWhole) {
  Document doc;
  std::vector<std::string> chunks;
  doc.stream_to([&](std::string_view c) { chunks.emplace_back(c); }, 1);
  {
    auto tr = doc.tr();
    doc.td("abc");
    doc.start("td");
    doc.finish_leaf("<b>x</b>", true);
  }
  doc.flush(true);
  auto count = [](const std::string& c, std::string_view what) {
    std::size_t n = 0;
    for (auto p = c.find(what); p != std::string::npos; p = c.find(what, p + 1)) ++n;
    return n;
  };
  for (const auto& c : chunks) EXPECT_EQ(count(c, "<td"), count(c, "</td>")) << c;
  std::string all;
  for (const auto& c : chunks) all += c;
  EXPECT_EQ(all, "<tr><td>abc</td><td><b>x</b></td></tr>");
}

TEST(TagflowDocument, RollbackUndoesAPartialCall) {
  Document doc;
  doc.leaf("p", "kept");
  const auto mark = doc.checkpoint();
  doc.start("div", {{"id", "x"}});
  doc.start("span");
  doc.rollback(mark);
  EXPECT_EQ(doc.depth(), 0U);
  EXPECT_EQ(doc.view(), "<p>kept</p>");
}

TEST(TagflowDocument, RollbackAcrossAFlushMarksTheDocumentInvalid) {
  Document doc;
  doc.stream_to([](std::string_view) {}, 1);
  const auto mark = doc.checkpoint();
  doc.leaf("p", "gone to the sink");
  doc.rollback(mark);
  EXPECT_THROW(doc.flush(true), Error);
}
