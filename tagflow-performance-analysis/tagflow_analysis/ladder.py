"""Rungs a-d of the optimization ladder: small variants over the INSTALLED tagflow 0.12.0.

Nothing here patches tagflow. ``variant("a+b")`` returns a new module object exposing tagflow's
API (``tag``, ``text``, ``attr``, ``classes``, ``dataset``, ``document``, ``html``) whose
``tag``/``text``/``attr``/``classes`` are subclasses or thin replacements that reuse the
installed tagflow's own pieces (its ``Fragment``, ContextVars, ``attr_value_to_str``, ``strs``,
``attr_name_to_xml``, pydantic event classes, ``record_mutation``, ``_get_or_create_id``). So a
variant cannot leak into ``tagflow`` itself or into another engine in the same process, and
every rung is exactly one idea:

a. no mutation-event construction (and no ``_get_or_create_id`` for it) unless a live
   transaction is there to receive it; tagflow builds a pydantic event on every tag, text and
   attribute even when nothing records it;
b. one reusable context-manager class instead of a new ``@contextmanager`` closure per tag
   (which costs a function object, ``functools.update_wrapper`` and a generator per element);
c. attribute-name conversion cached per name instead of one ``re.sub`` per attribute;
d. a static mode: the same ElementTree, built without the live machinery (no ids, no events,
   no ContextVar set/reset per tag: one ContextVar holds a stack of open elements);
s. (beyond the issue's list: the largest cost left after a-d) ``to_html`` with a serializer
   written for tagflow's trees: one recursive function appending to a list, ElementTree's own
   escaping helpers, no namespace pass, so the bytes are ElementTree's.

Combinations are cumulative (``"a+b+c"``). ``d`` subsumes ``a`` (there is nothing left to skip).
Output is byte-identical to tagflow's: the tree and its serialization are tagflow's own.
"""

from __future__ import annotations

import functools
import types
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from xml.etree.ElementTree import HTML_EMPTY, _escape_attrib_html, _escape_cdata

import tagflow.tagflow as tf

RUNGS: dict[str, str] = {
    "a": "no mutation events or ids without a live session",
    "b": "one reusable context manager per tag (no @contextmanager closure)",
    "c": "cached attribute-name conversion",
    "d": "static mode: ElementTree without live machinery",
    "s": "a serializer for tagflow's trees (same bytes as ElementTree's)",
}


def parse(spec: str) -> frozenset[str]:
    """``"a+b+c"`` (or ``"abc"``) -> {"a", "b", "c"}; a clear error for anything else."""
    letters = [ch for ch in spec.replace("+", "").replace(" ", "")]
    bad = [ch for ch in letters if ch not in RUNGS]
    if not letters or bad:
        raise ValueError(
            f"unknown ladder rung spec {spec!r}: use letters from {'+'.join(RUNGS)}, e.g. 'a+b'"
        )
    return frozenset(letters)


def canonical(spec: str) -> str:
    """The canonical spelling of a spec: sorted letters joined with '+'."""
    return "+".join(sorted(parse(spec)))


def _name_converter(cached: bool) -> Callable[[str], str]:
    if not cached:
        return tf.attr_name_to_xml
    cache: dict[str, str] = {}

    def convert(name: str) -> str:
        try:
            return cache[name]
        except KeyError:
            out = cache[name] = tf.attr_name_to_xml(name)
            return out

    return convert


def _set_attr(el: ET.Element, xml_name: str, value: Any) -> None:
    """tagflow's attr(): None/False remove, True sets "", anything else its str()."""
    if value is None or value is False:
        el.attrib.pop(xml_name, None)
    elif value is True:
        el.set(xml_name, "")
    else:
        el.set(xml_name, str(value))


def _attrs(kwargs: dict[str, Any], klasses: tuple, convert: Callable[[str], str]) -> dict:
    """tagflow's keyword/positional-class handling, with a pluggable name conversion."""
    attrs = {}
    for k, v in kwargs.items():
        if v is None or v is False:
            continue
        attrs[convert(k)] = tf.attr_value_to_str(v, k)
    if klasses:
        class_attr = attrs.get("class")
        class_values = list(klasses)
        if class_attr:
            class_values.append(class_attr)
        attrs["class"] = tf.strs(class_values)
    return attrs


# ---------------------------------------------------------------------------------------------
# live-capable variants (a, b, c in any combination)
# ---------------------------------------------------------------------------------------------


class _NotPlain(Exception):
    """A tree _serialize leaves to ElementTree."""


def _serialize(elem: ET.Element, out: list[str]) -> None:
    """ElementTree's HTML serialization of one element (and its tail), for tagflow's trees."""
    tag = elem.tag
    if type(tag) is not str or "{" in tag:
        raise _NotPlain  # comments, processing instructions, namespaces
    out.append("<" + tag)
    for k, v in elem.items():
        out.append(f' {k}="{_escape_attrib_html(v)}"')
    out.append(">")
    ltag = tag.lower()
    text = elem.text
    if text:
        out.append(text if ltag == "script" or ltag == "style" else _escape_cdata(text))
    for child in elem:
        _serialize(child, out)
    if ltag not in HTML_EMPTY:
        out.append("</" + tag + ">")
    if elem.tail:
        out.append(_escape_cdata(elem.tail))


class FastFragment(tf.Fragment):
    """tagflow's Fragment whose compact ``to_html`` uses :func:`_serialize` (rung s)."""

    def to_html(self, compact: bool = True) -> str:
        if not compact:
            return super().to_html(compact)
        out: list[str] = []
        try:
            for child in self.element:
                _serialize(child, out)
        except _NotPlain:
            return super().to_html(compact)
        return "".join(out)


def _live_document(fragment: type[tf.Fragment]) -> Callable[[], Any]:
    """tagflow's document() making ``fragment`` instances."""

    @contextmanager
    def document() -> Iterator[tf.Fragment]:
        doc = fragment()
        token_root = tf.root_fragment.set(doc)
        token_node = tf.node.set(doc.element)
        try:
            yield doc
        finally:
            tf.root_fragment.reset(token_root)
            tf.node.reset(token_node)

    return document


def _live_variant(
    lazy_events: bool, reusable_cm: bool, convert: Callable[[str], str], fragment: type
) -> dict:
    node, root_fragment, tx = tf.node, tf.root_fragment, tf.tx
    record, get_id = tf.record_mutation, tf._get_or_create_id

    def wants_events() -> bool:
        # a: an event is only worth building when a live transaction will receive it
        return not lazy_events or tx.get() is not None

    class ElementContext:
        """b: the per-tag context manager as one small class instead of a generator closure."""

        __slots__ = ("element", "token")

        def __init__(self, element: ET.Element) -> None:
            self.element = element

        def __enter__(self) -> ET.Element:
            self.token = node.set(self.element)
            return self.element

        def __exit__(self, *exc: object) -> None:
            node.reset(self.token)
            if wants_events():
                record(tf.CloseTagEvent(target=get_id(self.element)))

    class TagBuilder(tf.HTMLTagBuilder):
        def __call__(self, tagname: str, *klasses: Any, **kwargs: Any):  # type: ignore[override]
            attrs = _attrs(kwargs, klasses, convert)
            element = ET.Element(tagname, attrib=attrs)
            if root_fragment.get().live and "id" not in attrs:
                get_id(element)
            parent = node.get()
            parent.append(element)
            if wants_events():
                record(
                    tf.OpenTagEvent(
                        target=get_id(parent), id=get_id(element), tag=tagname, attrs=attrs
                    )
                )
            if reusable_cm:
                return ElementContext(element)

            @contextmanager
            def context():
                token = node.set(element)
                try:
                    yield element
                finally:
                    node.reset(token)
                    if wants_events():
                        record(tf.CloseTagEvent(target=get_id(element)))

            return context()

    def text(content: str) -> None:
        current_el = node.get()
        if len(current_el) > 0:
            target = current_el[-1]
            value = target.tail = (target.tail or "") + content
        else:
            target = current_el
            value = current_el.text = (current_el.text or "") + content
        if wants_events():
            record(tf.SetTextEvent(target=get_id(target), value=value))

    def attr(name: str, value: Any) -> None:
        current_el = node.get()
        xml_name = convert(name)
        _set_attr(current_el, xml_name, value)
        current_val = current_el.get(xml_name)
        if current_val is not None and wants_events():
            target = get_id(current_el)
            record(tf.SetAttributeEvent(target=target, name=xml_name, value=current_val))

    def classes(*names: Any) -> None:
        el = node.get()
        current = el.get("class", "").strip()
        if current and names:
            current += " "
        new_value = current + tf.strs(list(names))
        el.set("class", new_value)
        if wants_events():
            record(tf.SetAttributeEvent(target=get_id(el), name="class", value=new_value))

    return {
        "tag": TagBuilder(),
        "text": text,
        "attr": attr,
        "classes": classes,
        "document": tf.document if fragment is tf.Fragment else _live_document(fragment),
    }


# ---------------------------------------------------------------------------------------------
# static mode (d), with or without b and c
# ---------------------------------------------------------------------------------------------


def _static_variant(reusable_cm: bool, convert: Callable[[str], str], fragment: type) -> dict:
    stack_var: ContextVar[list[ET.Element]] = ContextVar("tagflow_analysis.static.stack")

    def current_stack() -> list[ET.Element]:
        try:
            return stack_var.get()
        except LookupError:
            raise RuntimeError("no document: use `with document() as doc:` first") from None

    @contextmanager
    def document() -> Iterator[tf.Fragment]:
        doc = fragment()
        token = stack_var.set([doc.element])
        try:
            yield doc
        finally:
            stack_var.reset(token)

    class StaticContext:
        __slots__ = ("element", "stack")

        def __init__(self, stack: list[ET.Element], element: ET.Element) -> None:
            self.stack = stack
            self.element = element

        def __enter__(self) -> ET.Element:
            self.stack.append(self.element)
            return self.element

        def __exit__(self, *exc: object) -> None:
            self.stack.pop()

    class TagBuilder(tf.HTMLTagBuilder):
        def __call__(self, tagname: str, *klasses: Any, **kwargs: Any):  # type: ignore[override]
            stack = current_stack()
            element = ET.SubElement(stack[-1], tagname, _attrs(kwargs, klasses, convert))
            if reusable_cm:
                return StaticContext(stack, element)

            @contextmanager
            def context():
                stack.append(element)
                try:
                    yield element
                finally:
                    stack.pop()

            return context()

    def text(content: str) -> None:
        current_el = current_stack()[-1]
        if len(current_el) > 0:
            last = current_el[-1]
            last.tail = (last.tail or "") + content
        else:
            current_el.text = (current_el.text or "") + content

    def attr(name: str, value: Any) -> None:
        _set_attr(current_stack()[-1], convert(name), value)

    def classes(*names: Any) -> None:
        el = current_stack()[-1]
        current = el.get("class", "").strip()
        if current and names:
            current += " "
        el.set("class", current + tf.strs(list(names)))

    return {
        "tag": TagBuilder(),
        "text": text,
        "attr": attr,
        "classes": classes,
        "document": document,
    }


# ---------------------------------------------------------------------------------------------


@functools.cache
def variant(spec: str) -> types.ModuleType:
    """A module with tagflow's API implementing the rungs in ``spec`` (e.g. ``"a+b+c"``)."""
    rungs = parse(spec)
    convert = _name_converter("c" in rungs)
    fragment = FastFragment if "s" in rungs else tf.Fragment
    if "d" in rungs:
        api = _static_variant("b" in rungs, convert, fragment)
    else:
        api = _live_variant("a" in rungs, "b" in rungs, convert, fragment)
    mod = types.ModuleType(f"tagflow_analysis.ladder[{canonical(spec)}]")
    mod.__doc__ = "tagflow 0.12.0 with rungs: " + "; ".join(RUNGS[r] for r in sorted(rungs))
    tag = api["tag"]
    attr = api["attr"]

    def dataset(data: dict[str, str]) -> None:
        for k, v in data.items():
            attr(f"data-{k}", v)

    def tag_decorator(tag_name: str, *klasses: Any, **kwargs: Any):
        def decorator(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs2):
                with tag(tag_name, *klasses, **kwargs):
                    return func(*args, **kwargs2)

            return wrapper

        return decorator

    class HTMLDecorators(tf.HTMLDecorators):
        def __getattr__(self, name: str):
            return lambda *args, **kwargs: tag_decorator(name, *args, **kwargs)

        def __call__(self, name: str, *klasses: Any, **kwargs: Any):
            return tag_decorator(name, *klasses, **kwargs)

    for key, value in api.items():
        setattr(mod, key, value)
    mod.dataset = dataset
    mod.html = HTMLDecorators()
    mod.rungs = rungs
    return mod
