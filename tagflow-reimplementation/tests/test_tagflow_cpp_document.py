"""The explicit Document API of tagflow_cpp: elements, attributes, text, errors, threads."""

from __future__ import annotations

import os
import threading

import pytest
from tagflow_cpp import ELEMENTS, VOID_ELEMENTS, Document, escape_kernel


def render(build) -> str:
    doc = Document()
    build(doc)
    return doc.render()


def test_tagflow_cpp_nesting_leaf_and_void() -> None:
    def build(doc: Document) -> None:
        doc.doctype()
        with doc.html(lang="en"):
            with doc.head():
                doc.meta(charset="utf-8")
                doc.title("T")
            with doc.body(), doc.ul(class_="menu"):
                doc.li("one")
                doc.li("two", class_="last")
            doc.br()

    assert render(build) == (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>T</title></head>'
        '<body><ul class="menu"><li>one</li><li class="last">two</li></ul></body><br></html>'
    )


def test_tagflow_cpp_a_method_for_every_element() -> None:
    assert len(ELEMENTS) > 100
    doc = Document()
    for name in ELEMENTS:
        method = getattr(doc, "del_" if name == "del" else name)
        if name in VOID_ELEMENTS:
            method()
        else:
            with method():
                pass
    out = doc.render()
    assert "<template></template>" in out
    assert "<del></del>" in out
    assert "<wbr>" in out and "</wbr>" not in out


def test_tagflow_cpp_void_elements_are_the_ones_html5lib_knows() -> None:
    """html5lib (what a browser's parser does) is the oracle: each element it treats as void
    that tagflow_cpp knows is listed as void and written without an end tag by the engine."""
    if os.environ.get("RUNNING_UNDER_ASAN"):
        constants = pytest.importorskip("html5lib.constants")
    else:
        import html5lib.constants as constants
    known = sorted(constants.voidElements & set(ELEMENTS))
    assert len(known) >= 12, known
    for name in known:
        assert name in VOID_ELEMENTS, name
        doc = Document()
        doc.tag(name)
        doc.tag(name.upper())
        doc.p("after")
        assert doc.render() == f"<{name}><{name.upper()}><p>after</p>", name


def test_tagflow_cpp_tag_opens_any_element() -> None:
    def build(doc: Document) -> None:
        with doc.tag("my-widget", data_x=1):
            doc.tag("x-leaf", "text")
        doc.tag("IMG", src="a.png")

    assert render(build) == (
        '<my-widget data-x="1"><x-leaf>text</x-leaf></my-widget><IMG src="a.png">'
    )


def test_tagflow_cpp_text_escapes_and_accepts_numbers() -> None:
    def build(doc: Document) -> None:
        with doc.p():
            doc.text("a < b & c > d \"q\" 'a'")
            doc.text(42)
            doc.text(1.5)
            doc.text(None)
            doc.text(True)

    assert render(build) == "<p>a &lt; b &amp; c &gt; d \"q\" 'a'421.5True</p>"


def test_tagflow_cpp_html_convention_inserts_markup() -> None:
    class Markup(str):
        def __html__(self) -> str:
            return str(self)

    class Widget:
        def __html__(self) -> str:
            return "<b>bold</b>"

    def build(doc: Document) -> None:
        doc.text(Markup("<i>safe</i>"))
        doc.div(Widget())
        doc.raw("<hr>")

    assert render(build) == "<i>safe</i><div><b>bold</b></div><hr>"


def test_tagflow_cpp_markupsafe_values_work() -> None:
    # markupsafe is absent only in the sanitizer run (cmake/run_python_under_asan.sh).
    if os.environ.get("RUNNING_UNDER_ASAN"):
        markupsafe = pytest.importorskip("markupsafe")
    else:
        import markupsafe
    doc = Document()
    doc.p(markupsafe.Markup("<em>%s</em>") % "<x>")
    assert doc.render() == "<p><em>&lt;x&gt;</em></p>"


def test_tagflow_cpp_attribute_rules() -> None:
    def build(doc: Document) -> None:
        doc.input(
            type="checkbox",
            checked=True,
            disabled=False,
            title=None,
            value=3,
            step=0.5,
            for_="x",
            hx_post="/go",
            data_a_b_c="d",
            data={"user_id": 7, "ok": True},
            aria={"label": "L"},
        )

    assert render(build) == (
        '<input type="checkbox" checked value="3" step="0.5" for="x" hx-post="/go" '
        'data-a-b-c="d" data-user-id="7" data-ok aria-label="L">'
    )


def test_tagflow_cpp_class_lists_merge_and_dedupe() -> None:
    def build(doc: Document) -> None:
        with doc.div(class_=["a", "b", "a", None], id="x"):
            doc.classes("c", "b d")
        doc.span("s", class_=("x", "y"))

    assert render(build) == '<div class="a b c d" id="x"></div><span class="x y">s</span>'


def test_tagflow_cpp_attribute_values_escape_quotes() -> None:
    doc = Document()
    doc.a("x", href="/?a=1&b=\"2\"<'3'>")
    assert doc.render() == '<a href="/?a=1&amp;b=&quot;2&quot;&lt;&#39;3&#39;&gt;">x</a>'


def test_tagflow_cpp_attr_after_open_replaces_in_place() -> None:
    def build(doc: Document) -> None:
        with doc.div(id="a", title="t"):
            doc.attr("id", "b")
            doc.attr("title", None)
            doc.attr("data_k", 1)

    assert render(build) == '<div id="b" data-k="1"></div>'


def test_tagflow_cpp_attr_after_child_names_the_element() -> None:
    doc = Document()
    with doc.section():
        doc.p("child")
        with pytest.raises(ValueError, match="<section>"):
            doc.attr("id", "late")
        with pytest.raises(ValueError, match="<section>"):
            doc.classes("late")


def test_tagflow_cpp_script_and_style_are_raw() -> None:
    doc = Document()
    doc.script("if (a < b && c) {}")
    with doc.style():
        doc.text("p > a {}")
    assert doc.render() == "<script>if (a < b && c) {}</script><style>p > a {}</style>"


@pytest.mark.parametrize("content", ["</script>", "x</SCRIPT", "a</sCrIpT >"])
def test_tagflow_cpp_closing_script_tag_is_rejected(content: str) -> None:
    doc = Document()
    with pytest.raises(ValueError, match="</script"):
        doc.script(content)
    assert doc.render() == ""  # nothing half-written


def test_tagflow_cpp_unclosed_tags_are_named() -> None:
    doc = Document()
    doc.html().__enter__()
    doc.body().__enter__()
    with pytest.raises(ValueError, match=r"unclosed tags: <html> <body>"):
        doc.render()
    assert doc.open_tags == ("html", "body")


@pytest.mark.parametrize("name", ["a b", 'a"', "a>", "a/", "a=", "a\x01", "", "a'"])
def test_tagflow_cpp_invalid_attribute_name(name: str) -> None:
    doc = Document()
    with pytest.raises(ValueError, match="invalid attribute name"):
        doc.div(**{name: "v"})
    assert doc.render() == ""


def test_tagflow_cpp_invalid_tag_name() -> None:
    doc = Document()
    with pytest.raises(ValueError, match="invalid tag name"):
        doc.tag("bad name")


def test_tagflow_cpp_unsupported_value_type_names_attribute_and_type() -> None:
    doc = Document()
    with pytest.raises(TypeError, match=r"attribute 'title'.*dict"):
        doc.div(id="ok", title={"a": 1})
    with pytest.raises(TypeError, match="object"):
        doc.text(object())
    assert doc.render() == ""  # the failed call left nothing behind


def test_tagflow_cpp_lone_surrogates_are_a_clear_error() -> None:
    doc = Document()
    with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
        doc.p("bad \ud800 text")
    with pytest.raises(UnicodeEncodeError):
        doc.div(title="\udfff")
    doc.p("fine")
    assert doc.render() == "<p>fine</p>"


def test_tagflow_cpp_leaf_result_refuses_with() -> None:
    doc = Document()
    with pytest.raises(TypeError, match="complete element"), doc.td("x"):
        pass
    with pytest.raises(TypeError, match="void element"):
        doc.br("text")


def test_tagflow_cpp_out_of_order_close_is_an_error() -> None:
    doc = Document()
    outer = doc.div()
    doc.span()
    with pytest.raises(ValueError, match="out of order"):
        outer.__exit__(None, None, None)


def test_tagflow_cpp_exception_inside_with_still_closes() -> None:
    doc = Document()
    with pytest.raises(KeyError), doc.div():
        raise KeyError("x")
    assert doc.render() == "<div></div>"


def test_tagflow_cpp_clear_and_str() -> None:
    doc = Document()
    doc.p("one")
    assert str(doc) == "<p>one</p>"
    doc.clear()
    doc.p("two")
    assert doc.render() == "<p>two</p>"
    assert doc.elements == 1


def test_tagflow_cpp_too_many_positional_arguments() -> None:
    with pytest.raises(TypeError, match="at most one positional"):
        Document().p("a", "b")


def test_tagflow_cpp_use_from_another_thread_raises() -> None:
    doc = Document()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            doc.p("x")
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(errors) == 1 and "thread" in str(errors[0])
    assert doc.render() == ""


def test_tagflow_cpp_reentrant_use_raises() -> None:
    doc = Document()

    class Sneaky:
        def __html__(self) -> str:
            doc.p("inner")  # the outer call is in progress: its output would be interleaved
            return "<b>x</b>"

    with pytest.raises(RuntimeError, match="re-entrantly"):
        doc.div(Sneaky())
    doc.div("after")
    assert doc.render() == "<div>after</div>"


def test_tagflow_cpp_guard_outlives_document() -> None:
    doc = Document()
    guard = doc.div()
    del doc
    with pytest.raises(RuntimeError, match="no longer exists"):
        guard.__exit__(None, None, None)


def test_tagflow_cpp_guard_methods() -> None:
    # A guard's __enter__/__exit__ are made once per guard (the `with` fast path); called
    # directly they do what `with` does, and one kept after its guard is gone refuses.
    doc = Document()
    guard = doc.div()
    assert guard.__enter__ is guard.__enter__
    assert guard.__enter__() is guard
    doc.text("x")
    assert guard.__exit__(None, None, None) is False
    assert doc.render() == "<div>x</div>"
    with pytest.raises(TypeError):
        guard.__enter__(1)
    exit_ = Document().div().__exit__  # the document and its guards die here
    with pytest.raises(RuntimeError, match="no longer exists"):
        exit_(None, None, None)
    with pytest.raises(RuntimeError, match="no longer exists"), Document().div():
        pass


def test_tagflow_cpp_escape_kernel_is_reported() -> None:
    assert escape_kernel() in {"avx2", "sse2", "scalar"}


def test_tagflow_cpp_large_document() -> None:
    doc = Document()
    with doc.table(), doc.tbody():
        for i in range(20000):
            with doc.tr():
                doc.td(i)
                doc.td(f"row <{i}>")
    out = doc.render()
    assert out.count("<tr>") == 20000
    assert "<td>19999</td><td>row &lt;19999&gt;</td>" in out


def test_tagflow_cpp_streaming_to_a_python_callable() -> None:
    chunks: list[str] = []
    doc = Document()
    doc.stream_to(chunks.append, threshold=256)
    with doc.ul():
        for i in range(500):
            doc.li(f"item {i} é")
    doc.finish()
    out = "".join(chunks)
    assert len(chunks) > 10
    assert out == "<ul>" + "".join(f"<li>item {i} é</li>" for i in range(500)) + "</ul>"
    with pytest.raises(ValueError, match="finish"):
        doc.render()


def test_tagflow_cpp_streaming_sink_errors_propagate() -> None:
    received: list[str] = []
    failures = [OSError("disk full")]

    def flaky(chunk: str) -> None:
        if failures:
            raise failures.pop()
        received.append(chunk)

    doc = Document()
    doc.stream_to(flaky, threshold=1)
    with pytest.raises(OSError, match="disk full"):
        doc.p("x")  # complete, but not delivered: it stays in the buffer
    with doc.div(), pytest.raises(ValueError, match="unclosed tags: <div>"):
        doc.finish()
    doc.finish()
    assert "".join(received) == "<p>x</p><div></div>"


def test_tagflow_cpp_finish_without_sink() -> None:
    with pytest.raises(ValueError, match="does not stream"):
        Document().finish()
    with pytest.raises(TypeError, match="callable"):
        Document().stream_to(42)  # type: ignore[arg-type]


def test_tagflow_cpp_buffer_memory_is_visible_to_tracemalloc() -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        doc = Document()
        with doc.ul():
            for i in range(5000):
                doc.li(f"item number {i}")
        held, _ = tracemalloc.get_traced_memory()  # before render(): only the engine's buffer
    finally:
        tracemalloc.stop()
    size = len(doc.render())
    assert size > 100_000
    assert held >= size  # the buffer holding the page is counted
