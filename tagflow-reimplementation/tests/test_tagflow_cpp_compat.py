"""tagflow_cpp.compat: tagflow 0.12.0's module API, byte-identical output, per-task documents."""

from __future__ import annotations

import asyncio
import importlib
import os

import pytest
from tagflow_cpp import compat
from tagflow_cpp.compat import attr, classes, dataset, document, html, tag, text


def test_tagflow_cpp_compat_basic_page() -> None:
    with document() as doc, tag.html(lang="en"):
        with tag.head(), tag.meta(charset="utf-8"):
            pass
        with tag.body(), tag.div("card", "wide", id="x", data_a_b_c="v"):
            attr("title", 'a & "b" <c>')
            text("x < y")
    assert doc.to_html() == (
        '<html lang="en"><head><meta charset="utf-8"></head><body>'
        '<div id="x" data-a_b-c="v" class="card wide" title="a &amp; &quot;b&quot; <c&gt;">'
        "x &lt; y</div></body></html>"
    )


def test_tagflow_cpp_compat_attribute_values_like_tagflow() -> None:
    with document() as doc:
        with tag.input(disabled=True, hidden=False, title=None, value=3, step=0.5):
            pass
        with tag.div(class_=["a", ["b", ""], None], classes="ignored-by-order"):
            classes("c", ["d"])
            dataset({"k": "v"})
            attr("data-k", None)
    assert doc.to_html() == (
        '<input disabled="" value="3" step="0.5">' '<div class="ignored-by-order c d"></div>'
    )


def test_tagflow_cpp_compat_unsupported_value_type() -> None:
    with document(), pytest.raises(TypeError, match="Attribute values must be"):
        tag.div(title={"a": 1})


def test_tagflow_cpp_compat_no_document_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match="no document is active"):
        tag.div()
    with pytest.raises(LookupError, match="no document is active"):
        text("x")


def test_tagflow_cpp_compat_decorator() -> None:
    @html.section("box")
    def body(name: str) -> None:
        text(name)

    with document() as doc:
        body("hi")
    assert doc.to_html() == '<section class="box">hi</section>'


def test_tagflow_cpp_compat_clear() -> None:
    with document() as doc, tag.ul():
        with tag.li():
            text("gone")
        compat.clear()
        with tag.li():
            text("kept")
    assert doc.to_html() == "<ul><li>kept</li></ul>"


def test_tagflow_cpp_compat_attr_after_child_is_an_error() -> None:
    with document(), tag.div():
        with tag.p():
            pass
        with pytest.raises(ValueError, match="<div>"):
            attr("id", "late")


def test_tagflow_cpp_compat_is_per_task_under_asyncio() -> None:
    async def page(n: int) -> str:
        with document() as doc, tag.ul(id=f"list{n}"):
            for i in range(5):
                with tag.li():
                    text(f"{n}.{i}")
                await asyncio.sleep(0)  # let the other tasks write in between
        return doc.to_html()

    async def main() -> list[str]:
        return await asyncio.gather(*(page(n) for n in range(8)))

    for n, out in enumerate(asyncio.run(main())):
        items = "".join(f"<li>{n}.{i}</li>" for i in range(5))
        assert out == f'<ul id="list{n}">{items}</ul>'


def _tagflow_and_scenarios():
    # The sanitizer run (cmake/run_python_under_asan.sh) has only tagflow_cpp; everywhere else
    # these are locked dependencies and missing one is a failure.
    load = pytest.importorskip if os.environ.get("RUNNING_UNDER_ASAN") else importlib.import_module
    return load("tagflow"), load("html_bench.tagflow_api"), load("html_bench.scenarios")


@pytest.mark.parametrize("scenario", ["simple", "complex", "table100", "table1000", "escaping"])
def test_tagflow_cpp_compat_is_byte_identical_to_tagflow(scenario: str) -> None:
    tagflow, tagflow_api, scenarios = _tagflow_and_scenarios()
    data = scenarios.SCENARIOS[scenario].build()
    expected = tagflow_api.renderers(tagflow)[scenario](data)
    got = tagflow_api.renderers(compat)[scenario](data)
    assert got == expected


def test_tagflow_cpp_compat_matches_tagflow_on_tricky_attributes() -> None:
    tagflow, _, _ = _tagflow_and_scenarios()

    def build(m) -> str:
        with m.document() as doc:
            with m.tag.div("a", ["b", ["c"]], class_="d", data_a_b_c="1", x__y=2, hx_on_click=True):
                m.classes("e")
                m.attr("title", "<'&\">")
                m.dataset({"n": 5})
                m.text("t&<>")
            with m.tag.script():
                m.text("a<b&&c>d")
            with m.tag.br():
                pass
        return doc.to_html()

    assert build(compat) == build(tagflow)


def test_tagflow_cpp_compat_tag_call_and_invalid_names() -> None:
    with document() as doc, tag("section", "a", id="s"):
        text("x")
    assert doc.to_html() == '<section id="s" class="a">x</section>'
    with pytest.raises(ValueError, match="invalid tag name"):
        getattr(tag, "1bad")
    with document(), pytest.raises(ValueError, match="invalid attribute name"):
        tag.div(**{"a b": "v"})


def test_tagflow_cpp_compat_tag_attributes() -> None:
    # tag.<name> is made once and kept; dunder names stay missing (copy/pickle probe them);
    # names that are not identifiers work through getattr and tag(...).
    assert tag.div is tag.div and tag.div.name == "div"
    with pytest.raises(AttributeError):
        tag.__wrapped__  # noqa: B018
    assert isinstance(tag, compat.HTMLTagBuilder)
    with document() as doc:
        with getattr(tag, "my-widget")("w", data_x=1):
            text("a")
        with tag("br"):
            pass
        with tag.img(src="a.png"):  # a void element used with `with`, as tagflow allows
            pass
    assert doc.to_html() == '<my-widget data-x="1" class="w">a</my-widget><br><img src="a.png">'
    with pytest.raises(TypeError, match="tag\\(name: str"):
        tag()
    with document(), pytest.raises(TypeError, match="tag\\(name: str"):
        tag(5)


def test_tagflow_cpp_compat_many_attributes_and_duplicates() -> None:
    # More attributes than are kept on the stack, and names that collide after tagflow's
    # renaming (the later value replaces the earlier one in its place).
    attrs = {f"a{i}": str(i) for i in range(12)}
    with document() as doc, tag.div("k", class_="c", classes="d", **attrs, data_x_y="1"):
        pass
    expected = "".join(f' a{i}="{i}"' for i in range(12))
    assert doc.to_html() == f'<div class="k d"{expected} data-x_y="1"></div>'
