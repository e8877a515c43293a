"""tagflow's element tree, for the compat documents that need one.

A compat document streams bytes, which is all most pages need. A few of tagflow's features
mutate its ``xml.etree`` tree instead: ``enter(element)`` (writing into an element again, after
other content), live sessions (element ids and mutation events), an element handle used as an
``xml.etree`` element, and Markup values (tagflow keeps them in the tree, and its serializer
escapes them through Markup's own ``str`` methods). The first time a document needs one of them,
it becomes a ``Tree``: the elements written so far are parsed back from the output (exact: the
engine writes every element closed, text escaped, attribute values quoted) and from then on
every compat call of that document does what tagflow does to its tree, here.

Rendering a tree replays it through a fresh compat engine document, so the output is checked by
the same rules as a streamed one (raw text, foreign content, NUL, names) and equals xml.etree's
HTML serialization, which is tagflow's, wherever tagflow's is correct.
"""

from __future__ import annotations

import dataclasses
import html as _html
import random
import re
import xml.etree.ElementTree as ET
from contextvars import ContextVar, Token
from io import StringIO
from typing import Any

from tagflow_cpp._core import Document, _tf_replay_close, _tf_replay_open

# ---------------------------------------------------------------------------------------------
# Mutation events and transactions, as tagflow's pydantic models dump them
# ---------------------------------------------------------------------------------------------


class _Event:
    __slots__ = ()

    def model_dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclasses.dataclass(slots=True)
class OpenTagEvent(_Event):
    target: str  # the parent's id
    id: str
    tag: str
    attrs: dict[str, str]
    type: str = "openTag"


@dataclasses.dataclass(slots=True)
class CloseTagEvent(_Event):
    target: str
    type: str = "closeTag"


@dataclasses.dataclass(slots=True)
class SetAttributeEvent(_Event):
    target: str
    name: str
    value: str
    type: str = "setAttribute"


@dataclasses.dataclass(slots=True)
class SetTextEvent(_Event):
    target: str
    value: str
    type: str = "setText"


@dataclasses.dataclass(slots=True)
class ClearEvent(_Event):
    target: str
    type: str = "clear"


MutationEvent = OpenTagEvent | CloseTagEvent | SetAttributeEvent | SetTextEvent | ClearEvent


@dataclasses.dataclass(slots=True)
class Transaction:
    """The mutations of one ``transition()``, sent to the browser as one update."""

    mutations: list[MutationEvent] = dataclasses.field(default_factory=list)
    type: str = "update"

    def model_dump(self) -> dict[str, Any]:
        return {"mutations": [m.model_dump() for m in self.mutations], "type": self.type}


#: The transaction being recorded (a live session's ``transition()``), if any.
tx: ContextVar[Transaction | None] = ContextVar("tagflow_cpp.compat.tx", default=None)

#: The element compat calls write into, once their document is a tree (tagflow's ``node``).
#: ``document()`` resets it, so None means: this document's innermost element.
node: ContextVar[ET.Element | None] = ContextVar("tagflow_cpp.compat.node", default=None)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def mint() -> str:
    """An element or session id as tagflow makes them: 48 random bits in base 62, 8 wide."""
    n = random.getrandbits(48)
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.zfill(8)


# ---------------------------------------------------------------------------------------------
# tagflow's attribute rules
# ---------------------------------------------------------------------------------------------

_UNDERSCORE = re.compile(r"(\w)_(\w)")


def attr_name(name: str) -> str:
    if name == "classes" or name == "class_":
        return "class"
    return _UNDERSCORE.sub(r"\1-\2", name)


def strs(value: Any) -> str:
    if isinstance(value, str):
        return value  # a Markup stays one, as in tagflow
    if isinstance(value, list):
        return " ".join(strs(v) for v in value if v)
    return ""


def attr_value(value: Any, name: str) -> str:
    if value is True:
        return ""
    if isinstance(value, str | list):
        return strs(value)
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(
        "Attribute values must be strings, numbers, booleans, or lists. "
        f"Got {type(value)} for attribute '{name}'"
    )


# ---------------------------------------------------------------------------------------------
# Output -> tree
# ---------------------------------------------------------------------------------------------

_RAW_TEXT = ("script", "style")
_TAG = re.compile(r'<(/?)([^\s/>]+)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*(/?)>')
_ATTR = re.compile(r'([^\s=>]+)(?:="([^"]*)")?')


def _add_text(parent: ET.Element, s: str) -> None:
    if len(parent):
        last = parent[-1]
        last.tail = (last.tail or "") + s
    else:
        parent.text = (parent.text or "") + s


def parse(out: str) -> tuple[ET.Element, list[ET.Element], list[ET.Element]]:
    """The tree tagflow holds for a compat document's output: (root, the elements in document
    order, the elements still open, outermost first)."""
    root = ET.Element("fragment")
    stack = [root]
    ordered: list[ET.Element] = []
    pos = 0
    while True:
        m = _TAG.search(out, pos)
        if m is None:
            if pos < len(out):
                _add_text(stack[-1], _html.unescape(out[pos:]))
            return root, ordered, stack[1:]
        if m.start() > pos:
            _add_text(stack[-1], _html.unescape(out[pos : m.start()]))
        pos = m.end()
        if m.group(1):
            stack.pop()
            continue
        name = m.group(2)
        attrib = {k: _html.unescape(v) for k, v in _ATTR.findall(m.group(3))}
        el = ET.SubElement(stack[-1], name, attrib)
        ordered.append(el)
        low = name.lower()
        if m.group(4) or low in ET.HTML_EMPTY:  # type: ignore[attr-defined]
            continue
        if low in _RAW_TEXT:
            end = out.find(f"</{name}>", pos)
            if end < 0:  # still open: the rest is its content so far
                if pos < len(out):
                    el.text = out[pos:]
                stack.append(el)
                return root, ordered, stack[1:]
            if end > pos:
                el.text = out[pos:end]
            pos = end + len(name) + 3
            continue
        stack.append(el)


# ---------------------------------------------------------------------------------------------
# Tree -> output, through the engine
# ---------------------------------------------------------------------------------------------


def _markup_attr(value: str) -> str:
    # xml.etree escapes an attribute value with str.replace, which Markup overrides to escape
    # the replacement as well ("&" -> "&amp;amp;"). Every "&" of that result starts "&amp;" and
    # it holds no raw '"' or '>', so the engine's escaping (& " >) of this string gives exactly
    # those bytes.
    return str.__str__(ET._escape_attrib_html(value)).replace("&amp;", "&")  # type: ignore[attr-defined]


def _attr_out(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return _markup_attr(value) if hasattr(value, "__html__") else str.__str__(value)
    raise TypeError(f"cannot serialize {value!r} (type {type(value).__name__})")  # as xml.etree


def _text_out(out: Document, value: Any) -> None:
    markup = type(value) is not str and isinstance(value, str) and hasattr(value, "__html__")
    if markup and not out._in_raw_text:
        # xml.etree escapes a Markup through Markup's str.replace (tagflow's bytes)
        escaped = str.__str__(ET._escape_cdata(value))  # type: ignore[attr-defined]
        out.raw(escaped.replace("\x00", "\ufffd"))
        return
    if not isinstance(value, str):
        raise TypeError(f"cannot serialize {value!r} (type {type(value).__name__})")  # as xml.etree
    out.text(str.__str__(value))


def _replay(out: Document, el: ET.Element) -> None:
    if not isinstance(el.tag, str):
        raise TypeError(f"tagflow_cpp.compat renders elements only, not {el.tag!r}")
    attrs = [(k, _attr_out(v)) for k, v in el.attrib.items()]
    opened = _tf_replay_open(out, el.tag, attrs)
    if el.text:
        _text_out(out, el.text)
    for child in el:
        _replay(out, child)
    if opened:
        _tf_replay_close(out)
    if el.tail:
        _text_out(out, el.tail)


_RAW_NAMES = frozenset(
    ("script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "title", "textarea")
)


def _check_run(context: ET.Element, run: str) -> None:
    # The engine refuses some text only inside raw text ("</script" in a script, ...): a run
    # joining such an element is checked as a streamed one would be, before it is kept.
    name = context.tag
    if isinstance(name, str) and name.lower() in _RAW_NAMES:
        probe = Document(compat=True)
        _tf_replay_open(probe, name, [])
        _text_out(probe, run)


# ---------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------


class _Guard:
    """What ``tag.div()`` gives on a tree: enters the element (``with ... as el`` gives it)."""

    __slots__ = ("element", "token", "tree")

    def __init__(self, tree: Tree, element: ET.Element) -> None:
        self.tree = tree
        self.element = element
        self.token: Token[ET.Element | None] | None = None

    def __enter__(self) -> ET.Element:
        if self.token is not None:
            raise RuntimeError("this element's `with` block is already active")
        self.token = node.set(self.element)
        return self.element

    def __exit__(self, *exc: object) -> None:
        token, self.token = self.token, None
        if token is not None:
            node.reset(token)
        tree = self.tree
        tree.record(CloseTagEvent(target=tree.id_of(self.element)))


class Tree:
    """tagflow's tree of one compat document and tagflow's operations on it."""

    __slots__ = ("innermost", "ordered", "removed", "root", "session", "start", "stream_parents")

    def __init__(self, doc: Document) -> None:
        root, ordered, open_elements = parse(doc._partial)
        serials = doc._open_serials
        if len(serials) != len(open_elements):  # pragma: no cover - the parser's invariant
            raise RuntimeError("tagflow_cpp.compat: the output does not parse back into a tree")
        self.root = root
        self.ordered = ordered
        self.removed = _merged(doc._removed)
        parents = [root, *open_elements]
        # What each element still open in the engine gives back to when its `with` ends.
        self.stream_parents = dict(
            zip(serials, zip(open_elements, parents, strict=False), strict=True)
        )
        self.innermost = parents[-1]
        self.session: Any = None  # the live session (tagflow's Fragment.live_session)
        void = doc._entered_void  # content written inside `with tag.br():` made this tree
        self.start = self.innermost if void is None else self.element_at(void._ordinal)

    # -- where compat calls write ------------------------------------------------------------

    def current(self) -> ET.Element:
        el = node.get()
        return self.innermost if el is None else el

    def element_at(self, ordinal: int) -> ET.Element:
        """The element of a handle made before the document became a tree."""
        skipped = 0
        for first, last in self.removed:
            if ordinal < first:
                break
            if ordinal < last:  # cleared since: an element no longer in the document
                return ET.Element("removed")
            skipped += last - first
        return self.ordered[ordinal - skipped]

    def id_of(self, el: ET.Element) -> str:
        current = el.attrib.get("id")
        if not current and self.session is not None:
            new = mint()
            el.attrib["id"] = new
            return new
        return current or ""

    @staticmethod
    def record(event: MutationEvent) -> None:
        t = tx.get()
        if t is not None:
            t.mutations.append(event)

    # -- tagflow's operations ------------------------------------------------------------------

    def open(self, name: str, klasses: tuple[Any, ...], kwargs: dict[str, Any]) -> _Guard:
        attrs: dict[str, str] = {}
        for k, v in kwargs.items():
            if v is None or v is False:
                continue
            attrs[attr_name(k)] = attr_value(v, k)
        if klasses:
            values = list(klasses)
            if attrs.get("class"):
                values.append(attrs["class"])
            attrs["class"] = strs(values)
        checked = [(k, _attr_out(v)) for k, v in attrs.items()]
        _tf_replay_open(Document(compat=True), name, checked)  # names and values as streamed
        element = ET.Element(name, attrib=attrs)
        if self.session is not None and "id" not in attrs:
            self.id_of(element)
        parent = self.current()
        parent.append(element)
        self.record(
            OpenTagEvent(target=self.id_of(parent), id=self.id_of(element), tag=name, attrs=attrs)
        )
        return _Guard(self, element)

    def exit_stream(self, handle: Any) -> None:
        """The end of a `with` block opened before the document became a tree."""
        element, parent = self.stream_parents[handle._serial]
        node.set(parent)
        self.record(CloseTagEvent(target=self.id_of(element)))

    def exit_void(self, handle: Any) -> None:
        """The end of a void element's `with` block opened before the document became a tree."""
        node.set(self.innermost)
        self.record(CloseTagEvent(target=self.id_of(self.element_at(handle._ordinal))))

    def text(self, content: Any) -> None:
        if content is None:
            content = ""
        elif type(content) is int or type(content) is float:
            content = str(content)  # as a streamed compat document writes them
        el = self.current()
        if len(el) > 0:
            last = el[-1]
            run = (last.tail or "") + content
            _check_run(el, run)
            last.tail = run
            self.record(SetTextEvent(target=self.id_of(last), value=run))
        else:
            run = (el.text or "") + content
            _check_run(el, run)
            el.text = run
            self.record(SetTextEvent(target=self.id_of(el), value=run))

    def attr(self, name: str, value: Any) -> None:
        el = self.current()
        xml_name = attr_name(name)
        _tf_replay_open(Document(compat=True), "x", [(xml_name, "")])  # the name's check
        if value is None or value is False:
            el.attrib.pop(xml_name, None)
        elif value is True:
            el.set(xml_name, "")
        else:
            el.set(xml_name, str(value))
        current = el.get(xml_name)
        if current is not None:
            self.record(SetAttributeEvent(target=self.id_of(el), name=xml_name, value=current))

    def classes(self, names: tuple[Any, ...]) -> None:
        el = self.current()
        current = el.get("class", "").strip()
        if current and names:
            current += " "
        value = current + strs(list(names))
        el.set("class", value)
        self.record(SetAttributeEvent(target=self.id_of(el), name="class", value=value))

    def clear(self) -> None:
        el = self.current()
        # Every child goes (tagflow 0.12.0 removes while iterating and so keeps every other one).
        del el[:]
        el.text = None
        el.tail = None
        self.record(ClearEvent(target=self.id_of(el)))

    # -- output ----------------------------------------------------------------------------------

    def html(self) -> str:
        out = Document(compat=True)
        if self.root.text:
            _text_out(out, self.root.text)  # compat keeps top-level text (tagflow drops it)
        for child in self.root:
            _replay(out, child)
        return out.render()

    def xml(self) -> str:
        return xml_of(self.root)


def xml_of(root: ET.Element) -> str:
    if len(root) > 1:
        raise ValueError("Fragment has more than one root element.")
    if len(root) == 0:
        raise IndexError("to_xml(): the fragment has no element")
    s = StringIO()
    ET.ElementTree(root[0]).write(s, encoding="unicode", method="xml")
    return s.getvalue()


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def switch(doc: Document) -> Tree:
    """The document's tree, made from its output the first time it is needed."""
    tree = doc._tree
    if tree is None:
        tree = Tree(doc)
        doc._tree = tree
        node.set(tree.start)
    return tree  # type: ignore[no-any-return]


def element(handle: Any) -> ET.Element:
    """The xml.etree element behind ``with tag.div() as el`` (an engine handle) or el itself."""
    if isinstance(handle, ET.Element):
        return handle
    doc = getattr(handle, "_document", None)
    if not isinstance(doc, Document):
        raise TypeError(f"expected an element of a compat document, got {handle!r}")
    tree = switch(doc)
    return tree.element_at(handle._ordinal)
