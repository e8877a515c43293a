"""tagflow_analysis.pybuilder writes correct HTML through tagflow's API."""

from __future__ import annotations

import random
from html.parser import HTMLParser

import pytest
from tagflow_analysis import pybuilder as pb
from tagflow_analysis.pybuilder import attr, classes, dataset, document, html, tag, text


def render(build) -> str:
    with document() as doc:
        build()
    return doc.to_html()


def test_pybuilder_text_escapes_amp_lt_gt():
    def build():
        with tag.p():
            text("a < b && c > d \"quoted\" 'single'")

    assert render(build) == "<p>a &lt; b &amp;&amp; c &gt; d \"quoted\" 'single'</p>"


def test_pybuilder_attribute_values_escape_all_five():
    def build():
        with tag.a(href="/q?a=1&b=<2>", title="say \"hi\" & 'bye'"):
            pass

    assert render(build) == (
        '<a href="/q?a=1&amp;b=&lt;2&gt;" title="say &quot;hi&quot; &amp; &#x27;bye&#x27;"></a>'
    )


def test_pybuilder_void_elements_are_never_closed():
    def build():
        with tag.head():
            with tag.meta(charset="utf-8"):
                pass
            with tag.link(rel="stylesheet", href="s.css"):
                pass
        with tag.p():
            text("x")
            with tag.br():
                pass
            tag.img(src="a.png")  # created without `with`, like tagflow allows

    out = render(build)
    assert out == (
        '<head><meta charset="utf-8"><link rel="stylesheet" href="s.css"></head>'
        '<p>x<br><img src="a.png"></p>'
    )
    assert "</meta>" not in out and "</br>" not in out and "</img>" not in out


def test_pybuilder_void_element_content_is_an_error():
    with document(), tag.br(), pytest.raises(ValueError, match="void element"):
        text("no")
    with document(), tag.input(), pytest.raises(ValueError, match="void element"):
        tag.span()


def test_pybuilder_script_and_style_are_raw():
    css = ".a>b{content:'&'}"
    js = 'if (a < b && c > d) { x = "<p>"; }'

    def build():
        with tag.style():
            text(css)
        with tag.script():
            text(js)

    assert render(build) == f"<style>{css}</style><script>{js}</script>"


@pytest.mark.parametrize("payload", ["</script>", "x</SCRIPT >", "</script"])
def test_pybuilder_closing_script_inside_script_is_rejected(payload):
    with document(), tag.script(), pytest.raises(ValueError, match="must not contain"):
        text(payload)


def test_pybuilder_boolean_none_number_and_list_attributes():
    def build():
        with tag.input(type="checkbox", checked=True, disabled=False, name=None, value=3):
            pass
        with tag.div("a", ["b", ["c", None]], class_="d", data_x=1.5):
            pass

    assert render(build) == (
        '<input type="checkbox" checked="" value="3">' '<div class="a b c d" data-x="1.5"></div>'
    )


def test_pybuilder_attribute_names_convert_every_underscore():
    def build():
        with tag.label(for_="x", aria_label="L", data_a_b_c="v", hx_post="/p"):
            pass

    assert render(build) == '<label for="x" aria-label="L" data-a-b-c="v" hx-post="/p"></label>'


def test_pybuilder_attr_classes_dataset_after_children():
    def build():
        with tag.div("a"):
            with tag.span():
                text("child")
            attr("id", "late")  # tagflow allows this: the start tag is rewritten
            classes("b", ["c"])
            dataset({"k": "v&"})
            attr("id", None)
            attr("hidden", True)

    assert render(build) == (
        '<div class="a b c" data-k="v&amp;" hidden=""><span>child</span></div>'
    )


def test_pybuilder_nested_documents_and_decorator():
    @html.section(id="s")
    def section():
        text("inside")

    with document() as outer, tag.div():
        with document() as inner:
            section()
        text(inner.to_html())
    assert inner.to_html() == '<section id="s">inside</section>'
    assert outer.to_html() == '<div>&lt;section id="s"&gt;inside&lt;/section&gt;</div>'


def test_pybuilder_tag_call_form_matches_attribute_form():
    assert render(lambda: tag("em", "x")) == render(lambda: tag.em("x"))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: tag("bad name"), ValueError, "invalid HTML tag name"),
        (lambda: tag.div(**{"on click": "x"}), ValueError, "invalid HTML attribute name"),
        (lambda: tag.div(**{'x"y': "x"}), ValueError, "invalid HTML attribute name"),
        (lambda: tag.div(x=object()), TypeError, "attribute 'x'"),
        (lambda: text(5), TypeError, "text\\(\\) takes a string"),
    ],
)
def test_pybuilder_bad_input_gets_clear_errors(call, error, match):
    with document(), pytest.raises(error, match=match):
        call()


def test_pybuilder_outside_a_document_is_an_error():
    with pytest.raises(RuntimeError, match="no document"):
        tag.div()
    with pytest.raises(RuntimeError, match="no document"):
        text("x")
    with document(), pytest.raises(RuntimeError, match="enclosing element"):
        attr("id", "x")


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag):
        self.events.append(("end", tag))

    def handle_data(self, data):
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)
        else:
            self.events.append(("data", data))


def test_pybuilder_round_trips_arbitrary_strings_through_html_parser():
    """Whatever the text and attribute values, a parser reads back exactly the input."""
    rng = random.Random(5)
    alphabet = "ab <>&\"'=/;#x\u00e9\u2603\U0001f600\n\t"
    for _ in range(300):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        v = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        with document() as doc, tag.div(title=v):
            text(t)
        parser = _Collect()
        parser.feed(doc.to_html())
        parser.close()
        expected = [("start", "div", (("title", v),))]
        if t:
            expected.append(("data", t))
        expected.append(("end", "div"))
        assert parser.events == expected, (t, v, doc.to_html())


def test_pybuilder_exports_the_tagflow_module_api():
    for name in ("tag", "text", "attr", "classes", "dataset", "document", "html"):
        assert hasattr(pb, name)
