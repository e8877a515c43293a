"""Issue 13: tagflow_cpp output is safe in every HTML context.

Each test parses the output the way a browser does (html5lib, the WHATWG tree-construction
algorithm) and compares the tree with what the calls meant. Rejections must be ValueErrors that
name the element, the offending text and the rule, and leave the document usable.
"""

from __future__ import annotations

import json
from typing import Any

import html5lib
import pytest
from tagflow_cpp import Document


def parse_body(html: str) -> Any:
    """The <body> of the document html5lib builds from `html` (an ElementTree element)."""
    root = html5lib.parse(html, namespaceHTMLElements=False)
    body = root.find("body")
    assert body is not None
    return body


def elements(body: Any) -> list[str]:
    return [e.tag for e in body.iter()][1:]


def text_of(body: Any, tag: str) -> str:
    found = [e for e in body.iter() if e.tag.split("}")[-1] == tag]
    assert found, f"no <{tag}> in the parse"
    return "".join(found[0].itertext())


# ---- foreign content (svg, math) --------------------------------------------------------


def test_style_in_svg_is_escaped_text() -> None:
    d = Document()
    with d.div(), d.svg():
        d.style("a{}<img src=x onerror=alert(1)>")
    body = parse_body(d.render())
    assert not [t for t in elements(body) if t.endswith("img")], d.render()
    assert text_of(body, "style") == "a{}<img src=x onerror=alert(1)>"


def test_script_in_svg_does_not_make_elements() -> None:
    d = Document()
    with d.svg():
        d.script("if (a<b) x()")
    body = parse_body(d.render())
    assert [t.split("}")[-1] for t in elements(body)] == ["svg", "script"], d.render()
    assert text_of(body, "script") == "if (a<b) x()"


def test_script_in_math_is_escaped_text() -> None:
    d = Document()
    with d.math():
        d.script("</math><img src=x onerror=alert(1)>")
    body = parse_body(d.render())
    assert [t.split("}")[-1] for t in elements(body)] == ["math", "script"], d.render()


def test_foreign_object_switches_back_to_html() -> None:
    d = Document()
    with d.svg(), d.tag("foreignObject"):
        d.script("if (a<b) x()")
    assert "<script>if (a<b) x()</script>" in d.render()
    body = parse_body(d.render())
    assert text_of(body, "script") == "if (a<b) x()"


def test_mathml_text_integration_point_is_html() -> None:
    d = Document()
    with d.math(), d.tag("mi"):
        d.style("a<b{}")
    assert "<style>a<b{}</style>" in d.render()


def test_html_breakout_elements_in_svg_are_rejected() -> None:
    d = Document()
    with d.svg():
        with pytest.raises(ValueError, match=r"<p> inside <svg>.*foreign.*breakout"):
            d.p("x")
        with pytest.raises(ValueError, match=r"<img>"):
            d.img(src="x")
        with d.tag("circle", r="1"):
            pass
    assert d.render() == '<svg><circle r="1"></circle></svg>'


def test_void_element_in_svg_is_self_closed() -> None:
    d = Document()
    with d.svg():
        d.input(name="a")
        with d.tag("rect"):
            pass
    assert d.render() == '<svg><input name="a"/><rect></rect></svg>'
    body = parse_body(d.render())
    assert [t.split("}")[-1] for t in elements(body)] == ["svg", "input", "rect"]


# ---- script and style -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "bad"),
    [
        ("var s = '<!--<script>';", "<!--"),
        ("x = '<SCRIPT>'", "<SCRIPT"),
        ("x = '</ScRipt>'", "</ScRipt"),
    ],
)
def test_script_sequences_are_rejected(content: str, bad: str) -> None:
    d = Document()
    with d.body():
        with pytest.raises(ValueError) as info:
            d.script(content)
        message = str(info.value)
        assert "<script>" in message and bad in message, message
        d.p("after")  # the document stays usable
    assert d.render() == "<body><p>after</p></body>"


def test_script_sequence_split_across_writes_is_rejected() -> None:
    d = Document()
    with d.script():
        d.text("a = '<!")
        with pytest.raises(ValueError, match="<!--"):
            d.text("--';")
        d.text("';")
    assert d.render() == "<script>a = '<!';</script>"


def test_style_end_tag_is_rejected_but_comment_open_is_fine() -> None:
    d = Document()
    with pytest.raises(ValueError, match=r"<style>.*</STYLE"):
        d.style("a{}</STYLE><b>")
    d.style("<!-- a{} -->")
    assert d.render() == "<style><!-- a{} --></style>"


def test_script_json_escapes_for_the_script_context() -> None:
    value = {"a": "</script><!--<script>", "b": "x & y > z", "c": "\u2028\u2029", "n": [1, 2.5]}
    d = Document()
    with d.body():
        d.script_json(value, id="data", type="application/json")
        d.p("after")
    html = d.render()
    assert "</script><!--" not in html.split("<script")[1].split("</script>")[0]
    body = parse_body(html)
    assert json.loads(text_of(body, "script")) == value
    assert text_of(body, "p") == "after"
    d2 = Document()
    d2.script_json('{"k": "<b>\u2028"}')  # a str is JSON text already
    assert d2.render() == '<script>{"k": "\\u003cb\\u003e\\u2028"}</script>'
    d3 = Document()
    d3.script_json(("<", 1))  # a tuple is one value (a JSON array), not json.dumps' arguments
    assert d3.render() == '<script>["\\u003c", 1]</script>'


# ---- control characters -----------------------------------------------------------------


def test_nul_becomes_replacement_character() -> None:
    d = Document()
    d.p("a\x00b", title="c\x00d")
    d.script("x\x00y")
    body = parse_body(d.render())
    assert text_of(body, "p") == "a\ufffdb"
    assert body.find("p").get("title") == "c\ufffdd"
    assert text_of(body, "script") == "x\ufffdy"


def test_carriage_return_survives_the_parser() -> None:
    d = Document()
    d.p("a\rb\r\nc", title="d\re")
    body = parse_body(d.render())
    assert text_of(body, "p") == "a\rb\r\nc"
    assert body.find("p").get("title") == "d\re"


def test_error_message_is_not_cut_at_nul() -> None:
    d = Document()
    with pytest.raises(ValueError) as info:
        d.tag("a\x00b")
    assert "\\x00b" in str(info.value), str(info.value)
    with pytest.raises(ValueError) as info2:
        d.script("\x00</script>")
    assert "</script" in str(info2.value)


# ---- newline after <pre>, <textarea>, <listing> -----------------------------------------


@pytest.mark.parametrize("tag", ["pre", "textarea", "listing"])
def test_leading_newline_is_kept(tag: str) -> None:
    d = Document()
    d.tag(tag, "\nline")
    with d.tag(tag):
        d.text("\n")
        d.text("\nsecond")
    body = parse_body(d.render())
    found = [e for e in body.iter() if e.tag == tag]
    assert ["".join(e.itertext()) for e in found] == ["\nline", "\n\nsecond"], d.render()


# ---- other raw text elements ------------------------------------------------------------


@pytest.mark.parametrize("tag", ["xmp", "iframe", "noembed", "noframes"])
def test_raw_text_elements_follow_raw_text_rules(tag: str) -> None:
    d = Document()
    with d.body():
        d.tag(tag, "a < b & c")
        with pytest.raises(ValueError, match=f"<{tag}>.*</{tag}"):
            d.tag(tag, f"x</{tag}><img src=x onerror=alert(1)>")
    body = parse_body(d.render())
    assert text_of(body, tag) == "a < b & c"
    assert "img" not in elements(body)


def test_plaintext_is_refused() -> None:
    d = Document()
    with pytest.raises(ValueError, match="plaintext"):
        d.tag("plaintext", "x")
    with pytest.raises(ValueError, match="plaintext"), d.tag("plaintext"):
        pass
    d.p("ok")
    assert d.render() == "<p>ok</p>"


def test_title_and_textarea_take_no_child_elements() -> None:
    d = Document()
    with d.textarea(), pytest.raises(ValueError, match="<textarea>"):
        d.b("x")
    assert d.render() == "<textarea></textarea>"


# ---- misuse -----------------------------------------------------------------------------


def test_reentrant_use_from_html_method_raises() -> None:
    d = Document()

    class Sneaky:
        def __html__(self) -> str:
            d.p("inside")
            return "<b>x</b>"

    with d.div():
        with pytest.raises(RuntimeError, match="re-entrantly"):
            d.text(Sneaky())
        with pytest.raises(RuntimeError, match="re-entrantly"):
            d.span(Sneaky())
    assert d.render() == "<div></div>"


def test_with_guard_cannot_be_entered_twice() -> None:
    d = Document()
    g = d.div()
    with g:
        with pytest.raises(RuntimeError, match="entered twice"), g:
            pass
        d.text("x")
    assert d.render() == "<div>x</div>"
