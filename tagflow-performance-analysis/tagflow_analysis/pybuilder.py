"""A pure-Python HTML string builder with tagflow's module API and correct HTML.

Rung e of the optimization ladder, and the "pure Python" engine of the benchmark. It keeps
tagflow's way of writing pages (``with tag.div(...)``, ``text``, ``attr``, ``classes``,
``dataset``, ``document``, ``@html.div``) but writes strings into one flat list instead of
building an ElementTree, and it writes correct HTML:

* text: ``&``, ``<`` and ``>`` are escaped;
* attribute values: ``&``, ``<``, ``>``, ``"`` and ``'`` are escaped;
* void elements (``meta``, ``br``, ``img``, ...) get no end tag, and content inside one is an
  error instead of silently invalid markup;
* ``script`` and ``style`` content is written raw (escaping it breaks CSS/JS); content that
  would end the element early (``</script``) is an error;
* tag and attribute names are checked once per distinct name (cached), so a name with a space,
  a quote or ``>`` cannot inject markup.

Differences from tagflow 0.12.0, all deliberate: attribute names convert every inner underscore
to a hyphen (tagflow's regex turns ``data_a_b_c`` into ``data-a_b-c``) and drop a trailing one
(``for_`` -> ``for``); ``attr()`` accepts the same values as keyword attributes (tagflow's turns
a list into its repr); void elements refuse content.

Attributes may still be changed with ``attr()``/``classes()`` after children were written: the
start tag sits in its own slot of the output list and is re-rendered when that happens.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["attr", "classes", "dataset", "document", "html", "tag", "text"]

VOID_ELEMENTS = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
)
RAW_TEXT_ELEMENTS = frozenset(("script", "style"))

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9\-_.:]*\Z")
# HTML attribute names: anything but controls, space, quotes, '>', '/', '=' (WHATWG syntax).
_ATTR_NAME = re.compile(r"[^\s\"'>/=\x00-\x1f\x7f]+\Z")

_tag_names: dict[str, tuple[str, bool, bool]] = {}
_attr_names: dict[str, str] = {}


def _check_tag(name: str) -> tuple[str, bool, bool]:
    """(name, is_void, is_raw) for a tag name, validated once and cached."""
    info = _tag_names.get(name)
    if info is None:
        if not isinstance(name, str) or not _TAG_NAME.match(name):
            raise ValueError(f"invalid HTML tag name: {name!r}")
        low = name.lower()
        info = (name, low in VOID_ELEMENTS, low in RAW_TEXT_ELEMENTS)
        _tag_names[name] = info
    return info


def _attr_name(name: str) -> str:
    """Keyword name -> HTML attribute name (``class_`` -> class, ``aria_label`` -> aria-label)."""
    out = _attr_names.get(name)
    if out is None:
        if name in ("classes", "class_"):
            out = "class"
        else:
            core = name[:-1] if name.endswith("_") and len(name) > 1 else name
            out = core[0] + core[1:].replace("_", "-") if core else core
        if not _ATTR_NAME.match(out):
            raise ValueError(f"invalid HTML attribute name: {name!r}")
        _attr_names[name] = out
    return out


def escape_text(s: str) -> str:
    """Escape text content: & < >."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(s: str) -> str:
    """Escape a double-quoted attribute value: & < > " '."""
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def _join_classes(value: Any) -> str:
    """A string, or arbitrarily nested lists of strings, as a space-separated string."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return " ".join(s for s in (_join_classes(v) for v in value if v) if s)
    if value is None:
        return ""
    raise TypeError(f"class names must be strings or lists of strings, got {type(value).__name__}")


def _value(value: Any, name: str) -> str:
    """An attribute value (not None/False) as its unescaped string."""
    if value is True:
        return ""
    t = type(value)
    if t is str:
        return value
    if t is int or t is float:
        return str(value)
    if isinstance(value, list | tuple):
        return _join_classes(value)
    if isinstance(value, str | int | float):  # subclasses (bool is handled above)
        return str(value)
    raise TypeError(
        f"attribute {name!r}: values must be strings, numbers, booleans or lists, "
        f"got {type(value).__name__}"
    )


def _start_tag(name: str, attrs: dict[str, str]) -> str:
    if not attrs:
        return "<" + name + ">"
    return (
        "<"
        + name
        + "".join([" " + k + '="' + escape_attr(v) + '"' for k, v in attrs.items()])
        + ">"
    )


class _Doc:
    """The output of one ``document()``: a flat list of strings and a stack of open elements."""

    __slots__ = ("open", "parts", "pending")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.open: list[_Element] = []
        # an element created by tag() but not (yet) entered with `with`
        self.pending: _Element | None = None

    def settle(self) -> None:
        """Close an element that was created but never entered (tagflow appends it empty)."""
        el = self.pending
        if el is not None:
            self.pending = None
            if not el.void:
                self.parts.append("</" + el.name + ">")


class _Element:
    """The context manager returned by ``tag.x(...)``: one small object per element."""

    __slots__ = ("attrs", "doc", "name", "raw", "slot", "void")

    def __init__(self, doc: _Doc, name: str, attrs: dict[str, str], void: bool, raw: bool):
        self.doc = doc
        self.name = name
        self.attrs = attrs
        self.void = void
        self.raw = raw
        parts = doc.parts
        self.slot = len(parts)
        parts.append(_start_tag(name, attrs))

    def __enter__(self) -> _Element:
        doc = self.doc
        if doc.pending is not self:
            raise RuntimeError(f"<{self.name}> entered twice or after other content was added")
        doc.pending = None
        doc.open.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        doc = self.doc
        doc.settle()
        doc.open.pop()
        if not self.void:
            doc.parts.append("</" + self.name + ">")

    def set_attr(self, name: str, value: str | None) -> None:
        if value is None:
            self.attrs.pop(name, None)
        else:
            self.attrs[name] = value
        self.doc.parts[self.slot] = _start_tag(self.name, self.attrs)


_current: ContextVar[_Doc] = ContextVar("tagflow_analysis.pybuilder.document")


def _doc() -> _Doc:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("no document: use `with document() as doc:` first") from None


def _current_element(what: str) -> _Element:
    doc = _doc()
    doc.settle()
    if not doc.open:
        raise RuntimeError(f"{what}() needs an enclosing element")
    return doc.open[-1]


class _TagBuilder:
    """``tag.div(*classes, **attrs)`` or ``tag("div", ...)``: a context manager for an element."""

    def __call__(self, tagname: str, *klasses: Any, **kwargs: Any) -> _Element:
        name, void, raw = _check_tag(tagname)
        doc = _current.get(None)
        if doc is None:
            raise RuntimeError("no document: use `with document() as doc:` first")
        if doc.pending is not None:
            doc.settle()
        if doc.open:
            parent = doc.open[-1]
            if parent.void:
                raise ValueError(f"<{parent.name}> is a void element and cannot have children")
            if parent.raw:
                raise ValueError(f"<{parent.name}> holds raw text and cannot have child elements")
        attrs: dict[str, str] = {}
        for k, v in kwargs.items():
            if v is None or v is False:
                continue
            attrs[_attr_names.get(k) or _attr_name(k)] = _value(v, k)
        if klasses:
            cls = attrs.get("class")
            attrs["class"] = _join_classes([*klasses, cls] if cls else list(klasses))
        el = _Element(doc, name, attrs, void, raw)
        doc.pending = el
        return el

    def __getattr__(self, name: str) -> Callable[..., _Element]:
        if name.startswith("__"):
            raise AttributeError(name)
        _check_tag(name)
        call = functools.partial(self.__call__, name)
        self.__dict__[name] = call  # next time found without __getattr__
        return call


tag = _TagBuilder()


def text(content: str) -> None:
    """Append text to the current element (escaped, raw inside script/style)."""
    doc = _current.get(None)
    if doc is None:
        raise RuntimeError("no document: use `with document() as doc:` first")
    if type(content) is not str:
        if not isinstance(content, str):
            raise TypeError(f"text() takes a string, got {type(content).__name__}")
        content = str(content)
    if doc.pending is not None:
        doc.settle()
    if doc.open:
        el = doc.open[-1]
        if el.raw:
            if "</" in content and "</" + el.name.lower() in content.lower():
                raise ValueError(f"text inside <{el.name}> must not contain '</{el.name}'")
            doc.parts.append(content)
            return
        if el.void:
            raise ValueError(f"<{el.name}> is a void element and cannot contain text")
    doc.parts.append(escape_text(content))


def attr(name: str, value: Any) -> None:
    """Set (or with None/False remove) an attribute of the current element."""
    el = _current_element("attr")
    key = _attr_name(name)
    el.set_attr(key, None if value is None or value is False else _value(value, name))


def classes(*names: Any) -> None:
    """Append class names (strings or nested lists) to the current element's class."""
    el = _current_element("classes")
    current = el.attrs.get("class", "").strip()
    if current and names:
        current += " "
    el.set_attr("class", current + _join_classes(list(names)))


def dataset(data: dict[str, Any]) -> None:
    """Set ``data-*`` attributes from a dict."""
    for k, v in data.items():
        attr(f"data-{k}", v)


class Fragment:
    """What ``document()`` yields: the HTML written so far."""

    __slots__ = ("_doc",)

    def __init__(self, doc: _Doc) -> None:
        self._doc = doc

    def to_html(self) -> str:
        doc = self._doc
        doc.settle()
        html = "".join(doc.parts)
        if doc.open:  # rendered from inside an element: close what is open
            html += "".join("</" + e.name + ">" for e in reversed(doc.open) if not e.void)
        return html

    __str__ = to_html


@contextmanager
def document() -> Iterator[Fragment]:
    """A new document; ``tag``/``text``/... inside the block write to it."""
    doc = _Doc()
    token = _current.set(doc)
    try:
        yield Fragment(doc)
    finally:
        _current.reset(token)


class _HtmlDecorators:
    """``@html.div(...)``: run the function inside that element."""

    def __call__(self, name: str, *klasses: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
        def decorator(func: Callable) -> Callable:
            @functools.wraps(func)
            def wrapper(*args: Any, **kw: Any) -> Any:
                with tag(name, *klasses, **kwargs):
                    return func(*args, **kw)

            return wrapper

        return decorator

    def __getattr__(self, name: str) -> Callable[..., Callable[[Callable], Callable]]:
        if name.startswith("__"):
            raise AttributeError(name)
        return functools.partial(self.__call__, name)


html = _HtmlDecorators()
