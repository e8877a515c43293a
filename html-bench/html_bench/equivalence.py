"""Are two HTML outputs the same document? Parse like a browser, then compare canonically.

``normalize`` parses with html5lib (the WHATWG algorithm browsers implement, so ``&lang=`` in an
attribute stays literal, ``<tbody>`` is implied, and so on) and serializes the tree one node per
line: elements with their attributes sorted by name, text with whitespace runs collapsed and
trimmed (whitespace-only text between tags dropped), except inside ``pre``/``textarea`` and the raw
text of ``script``/``style``, which are kept verbatim. Doctype names compare case-insensitively.
HTML parse errors (a stray ``</meta>``, an unquoted attribute broken by a quote, ...) are part of
the normalized form: a document with a parse error never equals a clean one.
"""

from __future__ import annotations

import re
from typing import Any

import html5lib

_WS = re.compile(r"\s+")
_VERBATIM = {"pre", "textarea", "script", "style"}


def _parse(html: str) -> tuple[Any, list[str]]:
    parser = html5lib.HTMLParser(
        tree=html5lib.getTreeBuilder("etree", fullTree=True), namespaceHTMLElements=False
    )
    root = parser.parse(html)
    errors = []
    for (line, col), code, data in parser.errors:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(data.items())) if data else ""
        errors.append(f"parse error at {line}:{col}: {code}" + (f" ({detail})" if detail else ""))
    return root, errors


def _text(value: str | None, verbatim: bool) -> str | None:
    if not value:
        return None
    if verbatim:
        return value
    value = _WS.sub(" ", value).strip()
    return value or None


def _lines(el: Any, path: str, verbatim: bool, out: list[str]) -> None:
    tag = el.tag
    if tag == "<!DOCTYPE>":
        out.append(f"{path}: <!DOCTYPE {str(el.text or '').lower()}>")
    elif callable(tag):  # the etree builder represents comments by the Comment factory
        out.append(f"{path}: <!--{el.text}-->")
    elif tag == "DOCUMENT_ROOT":
        pass
    else:
        attrs = " ".join(f'{k}="{v}"' for k, v in sorted(el.attrib.items()))
        out.append(f"{path}: <{tag}{' ' + attrs if attrs else ''}>")
        verbatim = verbatim or tag in _VERBATIM
        text = _text(el.text, verbatim)
        if text is not None:
            out.append(f"{path}/text(): {text!r}")
    index: dict[str, int] = {}
    for child in el:
        name = child.tag if isinstance(child.tag, str) else "comment"
        index[name] = index.get(name, 0) + 1
        child_path = f"{path}/{name}[{index[name]}]" if tag != "DOCUMENT_ROOT" else f"/{name}"
        _lines(child, child_path, verbatim, out)
        tail = _text(child.tail, verbatim)
        if tail is not None:
            out.append(f"{path}/text(): {tail!r}")


def normalize(html: str) -> str:
    """Canonical form of ``html``: one line per node, plus one line per parse error."""
    root, errors = _parse(html)
    out: list[str] = []
    _lines(root, "", False, out)
    out.extend(errors)
    return "\n".join(out)


def first_difference(a: str, b: str, *, normalized: bool = False) -> str | None:
    """None if ``a`` and ``b`` are the same document, else a one-line description of where they
    first differ (``a`` is the expected/reference side). Pass ``normalized=True`` if both are
    already outputs of :func:`normalize`."""
    na = a if normalized else normalize(a)
    nb = b if normalized else normalize(b)
    if na == nb:
        return None
    la, lb = na.split("\n"), nb.split("\n")
    for i, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            return f"node {i + 1}: expected {_clip(x)} but got {_clip(y)}"
    if len(la) > len(lb):
        return f"node {len(lb) + 1}: expected {_clip(la[len(lb)])} but the output ends"
    return f"node {len(la) + 1}: unexpected {_clip(lb[len(la)])} after the expected end"


def _clip(s: str, limit: int = 160) -> str:
    return s if len(s) <= limit else s[: limit - 3] + "..."


def count_nodes(html: str) -> tuple[int, int]:
    """(elements, non-empty text nodes) of the parsed document, not counting the doctype."""
    root, _ = _parse(html)
    elements = texts = 0
    stack = [root]
    while stack:
        el = stack.pop()
        if isinstance(el.tag, str) and el.tag not in ("DOCUMENT_ROOT", "<!DOCTYPE>"):
            elements += 1
            if el.text and el.text.strip():
                texts += 1
        for child in el:
            if child.tail and child.tail.strip():
                texts += 1
            stack.append(child)
    return elements, texts
