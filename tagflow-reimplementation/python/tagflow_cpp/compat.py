"""A drop-in for tagflow 0.12.0's module API on the C++ engine.

Change ``from tagflow import tag, text, attr, document`` to
``from tagflow_cpp.compat import tag, text, attr, document`` and the same code renders the same
HTML, byte for byte (same attribute-name rules, same escaping as xml.etree's HTML serializer:
text ``& < >``, attribute values ``& " >``), many times faster.

The current document lives in a context variable, so concurrent asyncio tasks (each with its own
``with document():``) never see each other's elements.

Differences from tagflow, all on inputs tagflow renders incorrectly or silently drops:

* ``attr()``/``classes()``/``dataset()`` must come before the element's first child (tagflow
  keeps a tree; this engine streams into one buffer) - otherwise ``ValueError`` naming it,
  unless the document already is a tree (below).
* ``</script`` inside script/style content raises ``ValueError`` instead of breaking the page.
* Invalid tag or attribute names raise ``ValueError``.
* Text written at the top level before the first element is kept (tagflow drops it).
* ``clear()`` removes every child of the element (tagflow 0.12.0 removes while iterating and
  keeps every other one).
* A document may be used from another thread (``asyncio.to_thread``, threadpool endpoints)
  whenever no call into it is in flight.

The features of tagflow that mutate its ``xml.etree`` tree turn the document into that tree the
first time they are used: ``enter(element)``, ``Live.session()``, ``Fragment.element``, an
element handle used as an element (``el.set(...)``, ``el.attrib``), and Markup values (tagflow
keeps them in the tree and escapes them through Markup's own methods). From then on the
document does what tagflow does, mutation events and ids of live sessions included, and renders
through the engine's checks; it is as slow as a tree is (still faster than tagflow).
``with tag.div() as el`` on a streaming document gives the element's handle (an
``tagflow_cpp._core.Element``, usable wherever tagflow's element is: ``enter(el)``, attribute
access); on a tree, the ``xml.etree`` element itself.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tagflow_cpp import _compat_tree
from tagflow_cpp._compat_tree import node as _node
from tagflow_cpp._compat_tree import parse as _parse
from tagflow_cpp._compat_tree import switch as _switch
from tagflow_cpp._compat_tree import xml_of as _xml_of
from tagflow_cpp._core import (
    Document,
    _TagBuilder,
    _tf_attr,
    _tf_bind,
    _tf_bind_tree,
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

_current: ContextVar[Document | None] = ContextVar("tagflow_cpp.compat.document", default=None)
_get = _current.get
_tf_bind(_current)  # the engine reads the current document from this variable directly
_tf_bind_tree(_switch, _compat_tree.element)

P = ParamSpec("P")
R = TypeVar("R")


def _no_document() -> LookupError:
    return LookupError("tagflow_cpp.compat: no document is active (use `with document():`)")


def _html(doc: Document) -> str:
    tree = doc._tree
    return doc.render() if tree is None else tree.html()


def _xml(doc: Document) -> str:
    tree = doc._tree
    return _xml_of(_parse(doc.render())[0]) if tree is None else tree.xml()


class Fragment:
    """What ``document()`` yields: the document being built; ``to_html()`` renders it."""

    __slots__ = ("_doc",)

    def __init__(self) -> None:
        self._doc = Document(compat=True)

    @property
    def live_session(self) -> Any:
        """The live session this document belongs to (``Live.session()``), or None."""
        tree = self._doc._tree
        return None if tree is None else tree.session

    @live_session.setter
    def live_session(self, session: Any) -> None:
        _switch(self._doc).session = session

    @property
    def live(self) -> bool:
        return self.live_session is not None

    @property
    def element(self) -> ET.Element:
        """The document as tagflow's tree: a ``fragment`` element holding the top-level ones.
        The document becomes that tree (changing it changes the document, as in tagflow)."""
        return _switch(self._doc).root

    def to_html(self, compact: bool = True) -> str:
        """The HTML of the top-level elements, concatenated (tagflow's compact form); with
        ``compact=False`` the single root element pretty-printed by BeautifulSoup, as tagflow."""
        html = _html(self._doc)
        if compact:
            return html
        root = _parse(html)[0]
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
    node_token = _node.set(None)
    try:
        yield frag
    finally:
        _node.reset(node_token)
        _current.reset(token)


#: ``tag.div(*classes, **attrs)`` or ``tag("div", ...)``: opens an element (use ``with``).
#: ``tag.<name>`` is a C callable bound to the name (no Python frame per element), made on
#: first use and kept on ``tag``.
HTMLTagBuilder = _TagBuilder


tag = HTMLTagBuilder()


#: text(content): appends escaped text to the current element (raw inside script/style);
#: a value with __html__ (Markup) is kept and escaped the way tagflow's xml.etree does it.
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
    doc = _need_document()
    tree = doc._tree
    if tree is None:
        doc.clear_content()
    else:
        tree.clear()


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
# The rest of tagflow's __all__: enter(), live sessions' spawn() and transition().
# ---------------------------------------------------------------------------------------------


def _need_document() -> Document:
    doc = _get()
    if doc is None:
        raise _no_document()
    return doc


@contextmanager
def enter(element: Any) -> Iterator[ET.Element]:
    """tagflow's enter(element): writes into that element again (``with tag.div() as el``'s
    ``el``, or an xml.etree element of a compat document) until the block ends. The current
    document becomes a tree (see the module doc)."""
    _switch(_need_document())
    el = _compat_tree.element(element)
    token = _node.set(el)
    try:
        yield el
    finally:
        _node.reset(token)


async def spawn(fn: Callable[..., Any]) -> None:
    """tagflow's spawn(fn): a task in the current document's live session."""
    tree = _need_document()._tree
    session = None if tree is None else tree.session
    if session is None:
        raise RuntimeError("Cannot spawn task: document is not live")
    session.spawn(fn)


@asynccontextmanager
async def transition() -> AsyncIterator[None]:
    """tagflow's transition(): the mutations of the block go to the browser as one update when
    the document is live; otherwise the block just runs."""
    tree = _need_document()._tree
    session = None if tree is None else tree.session
    if session is None:
        yield
        return
    async with session.transition():
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
