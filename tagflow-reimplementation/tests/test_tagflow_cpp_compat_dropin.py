"""tagflow_cpp.compat as a complete drop-in for tagflow 0.12.0: every name of tagflow's __all__,
pretty printing, XML, Markup, the element of `with ... as el`, enter(), live sessions and their
websocket, thread hops, the Starlette/FastAPI glue. Differential: the same random programs run
against tagflow and compat, bytes (and a live session's mutation events) compared."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import random
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from tagflow_cpp import compat


def _load(name: str) -> ModuleType:
    # The sanitizer run (cmake/run_python_under_asan.sh) may lack the locked dependencies;
    # else a missing one is a failure.
    if os.environ.get("RUNNING_UNDER_ASAN"):
        return pytest.importorskip(name)
    return importlib.import_module(name)


def test_tagflow_cpp_compat_exports_every_name_of_tagflows_all() -> None:
    tagflow = _load("tagflow")
    missing = [n for n in tagflow.__all__ if not hasattr(compat, n)]
    assert missing == []
    namespace: dict[str, Any] = {}
    exec("from tagflow_cpp.compat import *", namespace)  # star-import gives them all too
    assert set(tagflow.__all__) <= set(namespace)


def test_tagflow_cpp_compat_with_as_gives_the_element() -> None:
    with compat.document() as doc, compat.tag.div() as el:
        assert el is not None
        with compat.tag.br() as br:
            assert br is not None
    assert doc.to_html() == "<div><br></div>"


def test_tagflow_cpp_compat_component_through_to_thread() -> None:
    def component(n: int) -> str:
        with compat.tag.li():
            compat.text(f"{n} {threading.current_thread() is not threading.main_thread()}")
        return "ok"

    async def page() -> str:
        with compat.document() as doc, compat.tag.ul():
            for n in range(3):
                assert await asyncio.to_thread(component, n) == "ok"
        return doc.to_html()

    assert asyncio.run(page()) == "<ul>" + "".join(f"<li>{n} True</li>" for n in range(3)) + "</ul>"


def test_tagflow_cpp_compat_fragment_element_is_tagflows_tree() -> None:
    with compat.document() as doc:
        with compat.tag.div("c", id="a"):
            compat.text("x<")
            with compat.tag.br():
                pass
            compat.text("tail")
            with compat.tag.script():
                compat.text("a<b&")
        with compat.tag.p():
            pass
    root = doc.element
    assert root.tag == "fragment" and [c.tag for c in root] == ["div", "p"]
    div = root[0]
    assert div.attrib == {"id": "a", "class": "c"} and div.text == "x<"
    assert [c.tag for c in div] == ["br", "script"]
    assert div[0].tail == "tail" and div[1].text == "a<b&"


def test_tagflow_cpp_compat_pretty_and_xml_errors_like_tagflow() -> None:
    tagflow = _load("tagflow")
    for m in (tagflow, compat):
        with m.document() as doc:
            pass
        assert doc.to_html(compact=False) == ""
        with pytest.raises(IndexError):
            doc.to_xml()
        with m.document() as doc:
            with m.tag.p():
                pass
            with m.tag.p():
                pass
        with pytest.raises(ValueError, match="exactly one root element"):
            doc.to_html(compact=False)
        with pytest.raises(ValueError, match="more than one root element"):
            doc.to_xml()


def test_tagflow_cpp_compat_markup_is_escaped_as_tagflow_does() -> None:
    tagflow = _load("tagflow")
    markup = _load("markupsafe").Markup

    class NotStr:
        def __html__(self) -> str:
            return "<b>"

    def build(m: ModuleType) -> str:
        with m.document() as doc, m.tag.div():
            with m.tag.p():
                m.text(markup("<b>x&amp;</b>"))
            with m.tag.script():
                m.text(markup("a<b&amp;"))
            with m.tag.style():
                m.text(markup("a>b"))
            with m.tag.span():
                m.text(markup("plain"))
            m.text("a<&")  # plain text joining a Markup run is re-escaped with it, as in tagflow
            m.text(markup("<b>"))
            m.text("<>")
            with m.tag.script():
                m.text("a<b")
                m.text(markup("<c>&"))
                m.text("<d")
        return doc.to_html()

    assert build(compat) == build(tagflow)

    def attrs(m: ModuleType) -> str:
        with m.document() as doc:
            with m.tag.div("k", title=markup('<a href="x">&amp;></a>'), class_=markup("<q&>")):
                pass
            with m.tag.p(data_x=markup(""), alt=type("S", (str,), {})('a&">')):
                pass
        return doc.to_html()

    assert attrs(compat) == attrs(tagflow)
    assert "<b>" not in build(compat).split("<script>")[0]  # escaped, never raw
    with compat.document() as doc, compat.tag.script():
        compat.text("x")
        with pytest.raises(ValueError, match="script"):
            compat.text(markup("</script><b>"))
        compat.text("y")  # the refused write changed nothing
    assert doc.to_html() == "<script>xy</script>"
    for m in (tagflow, compat):
        with m.document(), m.tag.p(), pytest.raises(TypeError):
            m.text(NotStr())  # tagflow: "" + value


def test_tagflow_cpp_compat_markup_run_state_is_reset_and_checked() -> None:
    markup = _load("markupsafe").Markup
    with compat.document() as doc, compat.tag.div():
        compat.text(markup("<b>"))
        compat.clear()  # a cleared element starts a plain run again
        compat.text("<")
        compat.text(markup("&"))
    assert doc.to_html() == "<div>&amp;amp;lt;&amp;amp;</div>"
    tagflow = _load("tagflow")
    with tagflow.document() as want, tagflow.tag.div():
        tagflow.text(markup("<b>"))
        tagflow.clear()
        tagflow.text("<")
        tagflow.text(markup("&"))
    assert want.to_html() == doc.to_html()


def test_tagflow_cpp_compat_spawn_transition_enter_live() -> None:
    tagflow = _load("tagflow")

    async def run(m: ModuleType) -> list[str]:
        seen = []
        with m.document() as doc:
            async with m.transition():
                with m.tag.p():
                    m.text("in transition")
            try:
                await m.spawn(lambda: None)
            except RuntimeError as e:
                seen.append(str(e))
        seen.append(doc.to_html())
        return seen

    assert asyncio.run(run(compat)) == asyncio.run(run(tagflow))

    async def no_run() -> None:
        with pytest.raises(RuntimeError, match="Live.run"):
            await compat.Live().session()

    asyncio.run(no_run())
    for m in (tagflow, compat):
        with m.document() as doc, m.tag.body():
            m.Live().script_tag()
            m.Live().client_tag("abc")
        assert doc.to_html() == (
            '<body><script src="/.well-known/tagflow/static/tagflow.js"></script>'
            '<tagflow-client session-id="abc"></tagflow-client></body>'
        )


# ---------------------------------------------------------------------------------------------
# Starlette/FastAPI: the same app with tagflow and with compat, driven through ASGI directly.
# ---------------------------------------------------------------------------------------------


async def _asgi_get(app: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    messages: list[dict[str, Any]] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, body


def _app(m: ModuleType) -> Any:
    fastapi = _load("fastapi")
    app = fastapi.FastAPI()
    app.add_middleware(m.DocumentMiddleware)

    def rows(n: int) -> None:
        with m.tag.table(), m.tag.tbody():
            for i in range(n):
                with m.tag.tr(), m.tag.td(class_="n"):
                    m.text(f"row {i} <&>")

    @app.get("/async", response_class=m.TagResponse)
    async def page_async() -> None:
        with m.tag.html(lang="en"), m.tag.body():
            rows(3)

    @app.get("/sync", response_class=m.TagResponse)
    def page_sync() -> None:  # FastAPI runs it in its threadpool: a thread hop
        with m.tag.html(), m.tag.body():
            rows(2)

    @app.get("/feed", response_class=m.XMLResponse)
    async def feed() -> None:
        with m.tag.rss(version="2.0"), m.tag.channel(), m.tag.title():
            m.text("A & B <c>")

    return app


@pytest.mark.parametrize("path", ["/async", "/sync", "/feed"])
def test_tagflow_cpp_compat_responses_on_fastapi_match_tagflow(path: str) -> None:
    tagflow = _load("tagflow")
    want = asyncio.run(_asgi_get(_app(tagflow), path))
    got = asyncio.run(_asgi_get(_app(compat), path))
    assert want[0] == 200 and got == want
    assert got[2].startswith(b"<!doctype html>\n<html") or got[2].startswith(b"<rss")


def test_tagflow_cpp_compat_live_websocket_refuses_unknown_sessions_like_tagflow() -> None:
    fastapi = _load("fastapi")

    async def talk(m: ModuleType) -> list[dict[str, Any]]:
        app = fastapi.FastAPI()
        live = m.Live()
        out: list[dict[str, Any]] = []
        async with live.run(app):
            inbox = [{"type": "websocket.connect"},
                     {"type": "websocket.receive", "text": json.dumps({"id": "nope"})}]  # fmt: skip

            async def receive() -> dict[str, Any]:
                if inbox:
                    return inbox.pop(0)
                await asyncio.sleep(3600)
                return {"type": "websocket.disconnect", "code": 1000}

            async def send(message: dict[str, Any]) -> None:
                out.append(message)

            path = "/.well-known/tagflow/live.ws"
            scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": path,
                     "raw_path": path.encode(), "query_string": b"", "root_path": "",
                     "headers": [], "scheme": "ws", "subprotocols": []}  # fmt: skip
            await app(scope, receive, send)
            status, _, js = await _asgi_get(app, "/.well-known/tagflow/static/tagflow.js")
            assert status == 200 and b"tagflow-client" in js
        return out

    assert asyncio.run(talk(compat)) == asyncio.run(talk(_load("tagflow")))


# ---------------------------------------------------------------------------------------------
# Differential: random programs, run by tagflow and by compat; every rendering compared.
# ---------------------------------------------------------------------------------------------

NAMES = ["div", "span", "p", "ul", "li", "a", "table", "td", "section", "linearGradient"]
VOIDS = ["br", "img", "input", "hr", "meta"]
RAW = ["script", "style"]
ALPHABET = ["a", "Z", " ", "<", ">", "&", '"', "'", "\n", "\t", "é", "€", "😀", "&amp;", "--"]


def _s(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(n)))


def _program(
    rng: random.Random, markup: Callable[[str], Any], tree_ops: bool = True
) -> list[tuple[Any, ...]]:
    """A list of operations; an element's setters come before its first child (see compat).
    `tree_ops` adds what makes a compat document tagflow's tree: enter() into an element
    written before, text inside a void element's `with` block."""
    ops: list[tuple[Any, ...]] = []

    def element(depth: int) -> None:
        r = rng.random()
        if r < 0.15:
            ops.append(("void", rng.choice(VOIDS), {"title": _s(rng), "n": rng.randrange(9)}))
            if tree_ops and rng.random() < 0.15:
                ops.append(("void_text", rng.choice(VOIDS), _s(rng)))
            return
        if r < 0.25:
            ops.append(("open", rng.choice(RAW), (), {}))
            ops.append(("text", _s(rng).replace("<", "")))
            ops.append(("close",))
            return
        klasses = tuple(
            rng.choice(["a", ["b", ["c", ""]], "", "d e"]) for _ in range(rng.randrange(3))
        )
        pairs = [
            ("class_", _s(rng, 4)),
            ("data_x_y", _s(rng)),
            ("hidden", rng.choice([True, False, None])),
            ("width", rng.choice([1, 2.5, "3"])),
            ("title", markup(_s(rng))),
        ]
        attrs = {k: v for k, v in pairs if rng.random() < 0.5}
        ops.append(("open", rng.choice(NAMES), klasses, attrs))
        if rng.random() < 0.3:
            ops.append(("attr", rng.choice(["title", "data-k", "aria_label"]), _s(rng)))
        if rng.random() < 0.2:
            ops.append(("classes", "x", ["y", ""]))
        if rng.random() < 0.2:
            ops.append(("dataset", {"a": _s(rng), "b_c": 1}))
        for _ in range(rng.randrange(4) if depth < 4 else 0):
            c = rng.random()
            if c < 0.3:
                ops.append(("text", _s(rng)))
            elif c < 0.45:
                # Markup, alone or among plain text in one run: tagflow's concatenation makes
                # the whole run Markup, which xml.etree then escapes its own way
                ops.append(("text", markup(_s(rng))))
            else:
                element(depth + 1)
            if tree_ops and rng.random() < 0.06:
                ops.append(("enter", rng.randrange(1000)))
                ops.append(("text", _s(rng)))
                if rng.random() < 0.5:
                    element(depth + 1)
                ops.append(("leave",))
        ops.append(("close",))

    ops.append(("open", "div", ("root",), {"id": "r"}))
    for _ in range(rng.randrange(1, 5)):
        element(1)
    ops.append(("close",))
    return ops


def _run(m: ModuleType, ops: list[tuple[Any, ...]]) -> Any:
    with m.document() as doc:
        _exec(m, ops)
    return doc


def _exec(m: ModuleType, ops: list[tuple[Any, ...]], entered: list[Any] | None = None) -> None:
    """Runs the operations in the current document. `entered` collects what `with ... as el`
    gave, the elements enter() may go back to (pass one list to share them between runs)."""
    stack = []
    if entered is None:
        entered = []
    for op in ops:
        kind = op[0]
        if kind == "open":
            cm = m.tag(op[1], *op[2], **op[3])
            el = cm.__enter__()
            if op[1] not in RAW:  # no elements inside raw text (compat refuses them)
                entered.append(el)
            stack.append(cm)
        elif kind == "close":
            stack.pop().__exit__(None, None, None)
        elif kind == "void":
            with m.tag(op[1], **op[2]) as el:
                entered.append(el)
        elif kind == "void_text":
            with m.tag(op[1]):
                m.text(op[2])
        elif kind == "enter":
            cm = m.enter(entered[op[1] % len(entered)])
            cm.__enter__()
            stack.append(cm)
        elif kind == "leave":
            stack.pop().__exit__(None, None, None)
        elif kind == "text":
            m.text(op[1])
        elif kind == "attr":
            m.attr(op[1], op[2])
        elif kind == "classes":
            m.classes(*op[1:])
        elif kind == "dataset":
            m.dataset(op[1])


def test_tagflow_cpp_compat_random_programs_render_like_tagflow() -> None:
    tagflow = _load("tagflow")
    markup = _load("markupsafe").Markup
    trees = 0
    for seed in range(600):
        # a third without Markup and tree operations: those documents stream to the end
        streamed = seed % 3 == 0
        ops = _program(random.Random(seed), str if streamed else markup, tree_ops=not streamed)
        want, got = _run(tagflow, ops), _run(compat, ops)
        if streamed:
            assert got._doc._tree is None, f"seed {seed}: plain text, yet a tree"
        trees += got._doc._tree is not None
        assert got.to_html() == want.to_html(), f"seed {seed}: compact HTML differs"
        assert got.to_html(compact=False) == want.to_html(compact=False), f"seed {seed}: pretty"
        assert got.to_xml() == want.to_xml(), f"seed {seed}: XML differs"
    assert trees > 300, trees  # of 400 with Markup or tree operations


def test_tagflow_cpp_compat_random_programs_through_tag_and_xml_responses() -> None:
    tagflow = _load("tagflow")
    markup = _load("markupsafe").Markup
    fastapi = _load("fastapi")

    def app(m: ModuleType) -> Any:
        a = fastapi.FastAPI()
        a.add_middleware(m.DocumentMiddleware)

        @a.get("/html/{seed}", response_class=m.TagResponse)
        def html_page(seed: int) -> None:  # threadpool endpoint
            _exec(m, _program(random.Random(seed), markup))

        @a.get("/xml/{seed}", response_class=m.XMLResponse)
        async def xml_page(seed: int) -> None:
            _exec(m, _program(random.Random(seed), lambda s: s))  # no Markup: see to_xml

        return a

    want_app, got_app = app(tagflow), app(compat)

    async def compare() -> None:
        for seed in range(40):
            for kind in ("html", "xml"):
                want = await _asgi_get(want_app, f"/{kind}/{seed}")
                got = await _asgi_get(got_app, f"/{kind}/{seed}")
                assert want[0] == 200 and got == want, f"{kind} seed {seed}"

    asyncio.run(compare())


# ---------------------------------------------------------------------------------------------
# Documents that become tagflow's tree: enter(), handles used as elements, live sessions.
# ---------------------------------------------------------------------------------------------


def _both() -> tuple[ModuleType, ModuleType]:
    return _load("tagflow"), compat


def test_tagflow_cpp_compat_handles_are_the_elements_tagflow_gives() -> None:
    def page(m: ModuleType) -> tuple[str, str]:
        with m.document() as doc:
            with m.tag.ul():
                items = []
                for i in range(3):
                    with m.tag.li() as li:  # the same depth each time: each keeps its own handle
                        m.text(str(i))
                    items.append(li)
                with m.tag.br() as br:
                    pass
            items[0].set("class", "first")
            items[2].attrib["id"] = "last"
            items[1].text = "one"
            br.tail = "after"
            assert items[0].tag == "li" and items[0].get("class") == "first"
        return doc.to_html(), doc.to_xml()

    tagflow, _ = _both()
    assert page(compat) == page(tagflow)
    assert page(compat)[0] == (
        '<ul><li class="first">0</li><li>one</li><li id="last">2</li><br>after</ul>'
    )


def test_tagflow_cpp_compat_enter_writes_into_an_earlier_element() -> None:
    def page(m: ModuleType) -> str:
        with m.document() as doc, m.tag.main():
            with m.tag.header() as header:
                m.text("title")
            for n in range(3):
                with m.tag.p():
                    m.text(str(n))
            with m.enter(header) as el:
                assert el.tag == "header"
                with m.tag.nav("menu"):
                    m.text("3 items")
                m.attr("data-n", 3)  # after a child: fine on a tree, as in tagflow
            m.text("end")
        return doc.to_html()

    tagflow, _ = _both()
    assert page(compat) == page(tagflow)
    assert 'data-n="3"' in page(compat) and "</p>end</main>" in page(compat)


def test_tagflow_cpp_compat_enter_into_a_cleared_element_writes_nowhere() -> None:
    def page(m: ModuleType) -> str:
        with m.document() as doc, m.tag.div():
            with m.tag.p() as gone:
                m.text("gone")
            m.clear()
            with m.tag.span():
                m.text("kept")
            with m.enter(gone):
                m.text("invisible")
        return doc.to_html()

    tagflow, _ = _both()
    assert page(compat) == page(tagflow) == "<div><span>kept</span></div>"


def test_tagflow_cpp_compat_clear_removes_every_child_unlike_tagflow() -> None:
    # tagflow 0.12.0's clear() removes children while iterating over them: every other stays.
    tagflow, _ = _both()
    for m, want in ((tagflow, "<ul><li>1</li></ul>"), (compat, "<ul></ul>")):
        with m.document() as doc, m.tag.ul():
            for i in range(2):
                with m.tag.li():
                    m.text(str(i))
            m.clear()
        assert doc.to_html() == want, m.__name__


def test_tagflow_cpp_compat_tree_keeps_the_engines_checks() -> None:
    markup = _load("markupsafe").Markup
    with compat.document() as doc, compat.tag.div() as div:
        compat.text(markup("<i>"))  # Markup: the document is a tree from here
        with compat.tag.script():
            compat.text("a<b")
            compat.text("</scr")
            with pytest.raises(ValueError, match="script"):
                compat.text("ipt><img src=x onerror=alert(1)>")  # the run would end the script
            compat.text("x")
        with pytest.raises(ValueError, match="tag name"):
            compat.tag("a b")
        with pytest.raises(ValueError, match="attribute name"):
            compat.attr("on x", "1")
        with pytest.raises(ValueError, match="plaintext"):
            compat.tag.plaintext()
        with pytest.raises(TypeError, match="compat document"):
            compat.enter(object()).__enter__()
        with compat.tag.pre():
            compat.text("\nkept")
        with compat.tag.svg(), compat.tag.style():
            compat.text("a<b")
        div.set("title", 'q"<')
    assert doc._doc._tree is not None
    assert doc.to_html() == (
        '<div title="q&quot;<">&amp;lt;i&amp;gt;<script>a<b</scrx</script><pre>\n\nkept</pre>'
        "<svg><style>a&lt;b</style></svg></div>"
    )


def test_tagflow_cpp_compat_tree_follows_a_component_into_a_thread() -> None:
    def component() -> None:
        assert threading.current_thread() is not threading.main_thread()
        with compat.tag.b():
            compat.text("from a thread")

    async def page() -> str:
        with compat.document() as doc:
            with compat.tag.div() as div:
                pass
            with compat.enter(div):
                await asyncio.to_thread(component)
        return doc.to_html()

    assert asyncio.run(page()) == "<div><b>from a thread</b></div>"


# ---------------------------------------------------------------------------------------------
# Live sessions: the same program under tagflow and compat, random ids seeded alike.
# ---------------------------------------------------------------------------------------------


async def _live(m: ModuleType, seed: int, connect: bool) -> tuple[str, list[Any], list[Any]]:
    """A live page built by a random program, then a transition that mutates it (enter() into
    its elements included). Returns the page, the transactions and what the websocket sent."""
    fastapi = _load("fastapi")
    markup = _load("markupsafe").Markup
    app = fastapi.FastAPI()
    live = m.Live()
    rng = random.Random(seed)
    sent: list[Any] = []
    transactions: list[Any] = []
    async with live.run(app):
        with m.document() as doc:
            random.seed(seed)  # element and session ids come from `random`, as in tagflow
            session = await live.session()
            assert doc.live and doc.live_session is session
            entered: list[Any] = []
            with m.tag.body():
                session.client_tag()
                _exec(m, _program(rng, markup), entered)
            page = doc.to_html()
            async with m.transition():
                _exec(m, _program(rng, markup), entered)
            async with m.transition():
                pass  # no mutations: nothing is sent
            if not connect:
                transactions.append((await session.transaction_receiver.receive()).model_dump())
                session.cancel()
                return page, transactions, sent
            inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            inbox.put_nowait({"type": "websocket.connect"})
            inbox.put_nowait({"type": "websocket.receive", "text": json.dumps({"id": session.id})})

            async def receive() -> dict[str, Any]:
                return await inbox.get()

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)
                if message["type"] == "websocket.send":  # got the update: the browser leaves
                    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

            path = "/.well-known/tagflow/live.ws"
            scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": path,
                     "raw_path": path.encode(), "query_string": b"", "root_path": "",
                     "headers": [], "scheme": "ws", "subprotocols": []}  # fmt: skip
            await asyncio.wait_for(app(scope, receive, send), 10)
    return page, transactions, sent


def test_tagflow_cpp_compat_live_sessions_record_what_tagflow_records() -> None:
    tagflow, _ = _both()
    kinds: set[str] = set()
    for seed in range(40):
        want = asyncio.run(_live(tagflow, seed, connect=False))
        got = asyncio.run(_live(compat, seed, connect=False))
        assert got[0] == want[0], f"seed {seed}: the live page differs"
        assert got[1] == want[1], f"seed {seed}: the transaction differs"
        kinds |= {m["type"] for m in got[1][0]["mutations"]}
        assert 'session-id="' in got[0] and ' id="' in got[0]
    assert kinds == {"openTag", "closeTag", "setText", "setAttribute"}


def test_tagflow_cpp_compat_live_websocket_sends_what_tagflow_sends() -> None:
    tagflow, _ = _both()
    for seed in (1, 2, 3):
        want = asyncio.run(_live(tagflow, seed, connect=True))
        got = asyncio.run(_live(compat, seed, connect=True))
        assert got == want, f"seed {seed}"
        updates = [json.loads(m["text"]) for m in got[2] if m["type"] == "websocket.send"]
        assert len(updates) == 1 and updates[0]["type"] == "update" and updates[0]["mutations"]


def test_tagflow_cpp_compat_spawn_runs_in_the_live_session() -> None:
    fastapi = _load("fastapi")

    async def run() -> list[str]:
        live = compat.Live()
        done: list[str] = []
        async with live.run(fastapi.FastAPI()):
            with compat.document():
                session = await live.session()

                async def task() -> None:
                    done.append("ran")
                    session.cancel()

                await compat.spawn(task)
                await asyncio.sleep(0.05)
        return done

    assert asyncio.run(run()) == ["ran"]
