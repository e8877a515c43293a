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
* Live documents, ``to_xml()``, pretty printing and the FastAPI helpers are not provided.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from tagflow_cpp._core import (
    Document,
    Element,
    _TagOpener,
    _tf_attr,
    _tf_bind,
    _tf_classes,
    _tf_open,
    _tf_text,
)

__all__ = ["Fragment", "attr", "classes", "clear", "dataset", "document", "html", "tag", "text"]

_current: ContextVar[Document | None] = ContextVar("tagflow_cpp.compat.document", default=None)
_get = _current.get
_tf_bind(_current)  # the engine reads the current document from this variable directly

P = ParamSpec("P")
R = TypeVar("R")


def _no_document() -> LookupError:
    return LookupError("tagflow_cpp.compat: no document is active (use `with document():`)")


class Fragment:
    """What ``document()`` yields: the document being built; ``to_html()`` renders it."""

    __slots__ = ("_doc",)

    def __init__(self) -> None:
        self._doc = Document(compat=True)

    @property
    def live(self) -> bool:
        return False

    def to_html(self, compact: bool = True) -> str:
        """The HTML of the top-level elements, concatenated (tagflow's compact form)."""
        if not compact:
            raise NotImplementedError("tagflow_cpp.compat renders compact HTML only")
        return self._doc.render()

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


class HTMLTagBuilder:
    """``tag.div(*classes, **attrs)`` or ``tag("div", ...)``: opens an element (use ``with``)."""

    def __call__(self, tagname: str, *klasses: Any, **kwargs: Any) -> Element:
        return _tf_open(_get(), tagname, klasses, kwargs)

    def __getattr__(self, name: str) -> Callable[..., Element]:
        if name.startswith("__"):
            raise AttributeError(name)
        # A C callable bound to the name (no Python frame per element), cached on the instance
        # so the next tag.<name> is a plain attribute lookup.
        opener = _TagOpener(name)
        setattr(self, name, opener)
        return opener


tag = HTMLTagBuilder()


#: text(content): appends escaped text to the current element (raw inside script/style).
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
