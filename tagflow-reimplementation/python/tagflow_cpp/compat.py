"""A drop-in for tagflow 0.12.0's module API on the C++ engine.

Change ``from tagflow import tag, text, attr, document`` to
``from tagflow_cpp.compat import tag, text, attr, document`` and the same code renders the same
HTML, byte for byte (same attribute-name rules, same escaping as xml.etree's HTML serializer:
text ``& < >``, attribute values ``& " >``), many times faster.

The current document lives in a context variable, so concurrent asyncio tasks (each with its own
``with document():``) never see each other's elements.

Differences from tagflow, all on inputs tagflow renders incorrectly or silently drops:

* ``attr()``/``classes()``/``dataset()`` must come before the element's first child (tagflow
  keeps a tree; this engine streams into one buffer) - otherwise ``ValueError`` naming it.
* ``</script`` inside script/style content raises ``ValueError`` instead of breaking the page.
* Invalid tag or attribute names raise ``ValueError``.
* Text written at the top level before the first element is kept (tagflow drops it).
* ``with tag.div() as el`` gives an element *handle*, not an ``xml.etree`` element: the engine
  streams, so there is no tree to mutate. ``Fragment.element`` is a snapshot tree, rebuilt from
  the output (``to_xml()`` and ``to_html(compact=False)`` serialize it exactly as tagflow does).
* Live sessions (``Live.session()``) and ``enter()`` need tagflow's mutable tree: they raise
  ``NotImplementedError`` naming that. ``spawn``/``transition`` behave as on a non-live tagflow
  document; ``Live.run``, its websocket route and ``TagResponse``/``XMLResponse``/
  ``DocumentMiddleware`` behave as tagflow's.
* A document may be used from another thread (``asyncio.to_thread``, threadpool endpoints)
  whenever no call into it is in flight.
* ``text(Markup(...))`` is escaped exactly as tagflow's xml.etree escapes a Markup, plain text
  next to it in the same run included, and so is a Markup keyword attribute value.
  ``to_xml()`` of a Markup (text in script/style, attribute values) escapes it as a plain string.
"""

from __future__ import annotations

import functools
import html as _html
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from io import StringIO
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tagflow_cpp._core import (
    Document,
    _TagBuilder,
    _tf_attr,
    _tf_bind,
    _tf_bind_markup,
    _tf_classes,
    _tf_text,
)

__all__ = [
    "DocumentMiddleware",
    "Fragment",
    "Live",
    "TagResponse",
    "XMLResponse",
    "attr",
    "classes",
    "clear",
    "dataset",
    "document",
    "enter",
    "html",
    "spawn",
    "tag",
    "text",
    "transition",
]

_RAW_TEXT = ("script", "style")
_current: ContextVar[Document | None] = ContextVar("tagflow_cpp.compat.document", default=None)
_get = _current.get
_tf_bind(_current)  # the engine reads the current document from this variable directly


def _markup_text(doc: Document, value: Any) -> None:
    # text(v) where v has __html__ (markupsafe.Markup), or any text joining a run that holds one.
    # tagflow keeps a run as `old + v`: Markup's __add__/__radd__ escape the plain side and the
    # run stays Markup (anything else without __radd__ raises TypeError, as in tagflow); then
    # xml.etree escapes it with str.replace, which Markup overrides to escape the replacement as
    # well: Markup("<b>") becomes "&amp;lt;b&amp;gt;". Raw inside script/style, as etree writes
    # them. The run's bytes are rewritten in place (the C side keeps the run's Markup value).
    start, written, raw, run = doc._text_run()
    if run is None:
        run = written if raw else _html.unescape(written)
    v = (run or "") + value  # tagflow: `current_el.text or ""`, so an empty Markup run is ""
    keep = None if type(v) is str else v  # a plain run goes back to the engine's fast path
    tags = doc.open_tags
    if tags and tags[-1].lower() in _RAW_TEXT:
        doc._rewrite_run(start, v, keep)
    else:
        doc._rewrite_run(start, ET._escape_cdata(v), keep)  # type: ignore[attr-defined]


def _markup_attr(value: str) -> str:
    # tag.x(name=Markup(...)): tagflow keeps the Markup and xml.etree's attribute escaping runs
    # Markup's str.replace, whose replacement is escaped again ("&" -> "&amp;amp;"). Every "&"
    # of that result starts "&amp;" and it holds no raw '"' or '>', so the engine's own escaping
    # (& " >) of this string gives exactly those bytes.
    if not hasattr(value, "__html__"):
        return str.__str__(value)  # any other str subclass: its characters, escaped as usual
    return str.__str__(ET._escape_attrib_html(value)).replace("&amp;", "&")  # type: ignore[attr-defined]


_tf_bind_markup(_markup_text, _markup_attr)

P = ParamSpec("P")
R = TypeVar("R")


def _no_document() -> LookupError:
    return LookupError("tagflow_cpp.compat: no document is active (use `with document():`)")


# The engine's compat output, tokenized back into the tree tagflow would hold. Exact because the
# engine writes every element closed, text escaped (& < >), attribute values quoted with " escaped
# and script/style content raw (with no "</script"/"</style" inside).
_TAG = re.compile(r'<(/?)([^\s/>]+)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*>')
_ATTR = re.compile(r'([^\s=>]+)(?:="([^"]*)")?')


def _add_text(parent: ET.Element, s: str) -> None:
    if len(parent):
        last = parent[-1]
        last.tail = (last.tail or "") + s
    else:
        parent.text = (parent.text or "") + s


def _tree(out: str) -> ET.Element:
    root = ET.Element("fragment")
    stack = [root]
    pos = 0
    while True:
        m = _TAG.search(out, pos)
        if m is None:
            if pos < len(out):
                _add_text(stack[-1], _html.unescape(out[pos:]))
            return root
        if m.start() > pos:
            _add_text(stack[-1], _html.unescape(out[pos : m.start()]))
        pos = m.end()
        if m.group(1):
            stack.pop()
            continue
        name = m.group(2)
        attrib = {k: _html.unescape(v) for k, v in _ATTR.findall(m.group(3))}
        el = ET.SubElement(stack[-1], name, attrib)
        low = name.lower()
        if low in ET.HTML_EMPTY:
            continue
        if low in _RAW_TEXT:
            end = out.find(f"</{name}>", pos)
            if end < 0:  # still open: the rest is its content so far
                end = len(out)
            if end > pos:
                el.text = out[pos:end]
            pos = end + len(name) + 3
            continue
        stack.append(el)


def _xml(doc: Document) -> str:
    root = _tree(doc.render())
    if len(root) > 1:
        raise ValueError("Fragment has more than one root element.")
    if len(root) == 0:
        raise IndexError("to_xml(): the fragment has no element")
    s = StringIO()
    ET.ElementTree(root[0]).write(s, encoding="unicode", method="xml")
    return s.getvalue()


class Fragment:
    """What ``document()`` yields: the document being built; ``to_html()`` renders it."""

    __slots__ = ("_doc", "live_session")

    def __init__(self) -> None:
        self._doc = Document(compat=True)
        self.live_session: Any = None

    @property
    def live(self) -> bool:
        return self.live_session is not None

    @property
    def element(self) -> ET.Element:
        """The document as tagflow's tree: a ``fragment`` element holding the top-level ones.

        A snapshot built from the output so far; changing it does not change the document."""
        return _tree(self._doc.render())

    def to_html(self, compact: bool = True) -> str:
        """The HTML of the top-level elements, concatenated (tagflow's compact form); with
        ``compact=False`` the single root element pretty-printed by BeautifulSoup, as tagflow."""
        if compact:
            return self._doc.render()
        root = self.element
        if len(root) == 0:
            return ""
        if len(root) > 1:
            raise ValueError("Pretty printing requires exactly one root element")
        from bs4 import BeautifulSoup

        rough = ET.tostring(root[0], encoding="unicode", method="html")
        return BeautifulSoup(rough, "html.parser").prettify()

    def to_xml(self) -> str:
        """The single root element as XML (xml.etree's serializer, as tagflow)."""
        return _xml(self._doc)

    def __str__(self) -> str:
        return self.to_html()


@contextmanager
def document() -> Iterator[Fragment]:
    """A new document, current for this task/thread until the block ends."""
    frag = Fragment()
    token = _current.set(frag._doc)
    try:
        yield frag
    finally:
        _current.reset(token)


#: ``tag.div(*classes, **attrs)`` or ``tag("div", ...)``: opens an element (use ``with``).
#: ``tag.<name>`` is a C callable bound to the name (no Python frame per element), made on
#: first use and kept on ``tag``.
HTMLTagBuilder = _TagBuilder


tag = HTMLTagBuilder()


#: text(content): appends escaped text to the current element (raw inside script/style);
#: a value with __html__ (Markup) is escaped the way tagflow's xml.etree does it.
text: Callable[[Any], None] = _tf_text


def attr(name: str, value: Any) -> None:
    """Sets an attribute of the current element; None or False removes it, True gives ""."""
    _tf_attr(_get(), name, value)


def classes(*names: Any) -> None:
    """Appends class names (str or nested lists of str) to the current element's class."""
    _tf_classes(_get(), names)


def dataset(data: dict[str, Any]) -> None:
    """Sets data-* attributes from a dict."""
    doc = _get()
    for k, v in data.items():
        _tf_attr(doc, f"data-{k}", v)


def clear() -> None:
    """Removes what was written inside the current element so far."""
    doc = _get()
    if doc is None:
        raise _no_document()
    doc.clear_content()


def _tag_decorator(
    tag_name: str, *klasses: Any, **attrs: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with tag(tag_name, *klasses, **attrs):
                return func(*args, **kwargs)

        return wrapper

    return decorator


class HTMLDecorators:
    """``@html.div("card")``: runs the function inside that element."""

    def __getattr__(self, name: str) -> Callable[..., Callable[[Callable[P, R]], Callable[P, R]]]:
        if name.startswith("__"):
            raise AttributeError(name)
        return functools.partial(_tag_decorator, name)

    def __call__(
        self, name: str, *klasses: Any, **attrs: Any
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        return _tag_decorator(name, *klasses, **attrs)


html = HTMLDecorators()


# ---------------------------------------------------------------------------------------------
# The rest of tagflow's __all__. Live documents stream mutations of tagflow's element tree; this
# engine streams bytes, so a compat document is never live: spawn/transition behave exactly as
# tagflow's do on a document that is not live, and Live.session()/enter() say they are missing.
# ---------------------------------------------------------------------------------------------


def _need_document() -> Document:
    doc = _get()
    if doc is None:
        raise _no_document()
    return doc


_NO_TREE = (
    "tagflow_cpp.compat writes elements as a stream and keeps no element tree: {what} is not "
    "supported (use tagflow for live documents)"
)


@contextmanager
def enter(element: Any) -> Iterator[Any]:
    """tagflow's enter(element): makes an element current again. Not supported here (the
    element's bytes are already written); raises NotImplementedError."""
    raise NotImplementedError(_NO_TREE.format(what="enter(element)"))
    yield element  # pragma: no cover


async def spawn(fn: Callable[..., Any]) -> None:
    """tagflow's spawn(fn): a task in the live session; a compat document is never live."""
    _need_document()
    raise RuntimeError("Cannot spawn task: document is not live")


@asynccontextmanager
async def transition() -> AsyncIterator[None]:
    """tagflow's transition(): batches live mutations; on a non-live document it just runs."""
    _need_document()
    yield


def __getattr__(name: str) -> Any:
    # The Starlette/FastAPI glue is imported on first use: tagflow_cpp itself needs no web stack.
    if name in _WEB_NAMES:
        from tagflow_cpp import _compat_web

        value = getattr(_compat_web, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_WEB_NAMES = ("DocumentMiddleware", "Live", "TagResponse", "XMLResponse")

if TYPE_CHECKING:
    from tagflow_cpp._compat_web import DocumentMiddleware, Live, TagResponse, XMLResponse
