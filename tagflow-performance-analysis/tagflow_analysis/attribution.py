"""Turning profiles into an attribution table: which share of tagflow's time goes where.

Every function in a profile is mapped to one category by a rule on its file and name (below).
Functions no rule names (``str.join``, ``builtins.next``, ``re.Pattern.sub``, ``getattr``...)
inherit the category of whoever called them: in a cProfile profile their self time is split
over their callers in proportion to the time spent when called from each (pstats keeps that
per caller), in a pyinstrument tree a frame takes the category of its nearest categorized
ancestor. Profile roots that no rule names (the benchmark loop, the scenario code) are "rest".
The shares therefore always add up to 100 %.

Element construction (``ET.Element(...)``) is a type call, which cProfile does not record as a
function: its cost is inside ``tag()``'s own time ("tagflow code"), not "ElementTree building",
which holds the Element methods (``append``, ``set``, ``get``, ...) called while building.
"""

from __future__ import annotations

import ast
import functools
import inspect
import pstats
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: category key -> label, in table order
CATEGORIES: dict[str, str] = {
    "closure": "per-tag @contextmanager closure + functools.update_wrapper",
    "events": "mutation-event construction and recording (pydantic)",
    "ids": "_get_or_create_id and live checks",
    "contextvar": "ContextVar traffic (get/set/reset)",
    "etree": "ElementTree building (Element methods)",
    "serialize": "serialization (ElementTree html writer, to_html)",
    "attrnames": "attribute-name conversion (re.sub)",
    "tagflow": "tagflow's own code (tag()/text() bodies, Element creation, tag.__getattr__)",
    "rest": "the rest (scenario code, formatting, loop)",
}

# tagflow.tagflow functions (by enclosing top-level name or method name) -> category
_TAGFLOW_FUNCS: dict[str, str] = {
    "context": "closure",
    "enter": "closure",
    "_get_or_create_id": "ids",
    "mint": "ids",
    "live": "ids",
    "record_mutation": "events",
    "attr_name_to_xml": "attrnames",
    "to_html": "serialize",
    "to_xml": "serialize",
}

_CONTEXTVAR_METHODS = ("get", "set", "reset")

Key = tuple[str, int, str]  # pstats function key: (file, first line, name)


@functools.cache
def _tagflow_file() -> str:
    import tagflow.tagflow

    return str(Path(inspect.getfile(tagflow.tagflow)).resolve())


@functools.cache
def _enclosing_functions(path: str) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of every function in a source file, innermost last."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans.append((node.lineno, node.end_lineno or node.lineno, node.name))
    spans.sort(key=lambda s: (s[0], -s[1]))
    return spans


def _tagflow_name(line: int, name: str) -> str:
    """The named function a tagflow code object belongs to (genexprs and lambdas -> their host)."""
    if not name.startswith("<"):
        return name
    best = name
    for first, last, fname in _enclosing_functions(_tagflow_file()):
        if first <= line <= last:
            best = fname  # later spans are nested deeper
    return best


def categorize(file: str, line: int, name: str) -> str | None:
    """The category a function belongs to by rule, or None to inherit from its caller."""
    if file == "~":  # a builtin: name is "<method 'x' of 'T' objects>" or "<built-in method x>"
        if "_contextvars.ContextVar" in name and any(f"'{m}'" in name for m in _CONTEXTVAR_METHODS):
            return "contextvar"
        if "pydantic_core" in name:
            return "events"
        if "xml.etree.ElementTree.Element" in name or "SubElement" in name:
            return "etree"  # refined by the caller: while serializing it is serialization
        return None
    path = file.replace("\\", "/")
    if path.endswith("/tagflow/tagflow.py"):
        return _TAGFLOW_FUNCS.get(_tagflow_name(line, name), "tagflow")
    if path.endswith("/contextlib.py"):
        return "closure"
    if path.endswith("/functools.py") and name in ("update_wrapper", "wraps"):
        return "closure"
    if "/pydantic/" in path or "/pydantic_core/" in path:
        return "events"
    if path.endswith("/xml/etree/ElementTree.py"):
        return "serialize"
    return None


def attribute_pstats(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of self time per category from a cProfile profile (callers-weighted inheritance)."""
    raw: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    rule: dict[Key, str | None] = {k: categorize(*k) for k in raw}
    memo: dict[Key, dict[str, float]] = {}

    def dist(key: Key, visiting: frozenset[Key]) -> dict[str, float]:
        """Category distribution of the time spent *in* ``key`` (its own or inherited)."""
        cat = rule.get(key)
        if cat is not None and cat != "etree":
            return {cat: 1.0}
        if key in memo:
            return memo[key]
        if key not in raw or key in visiting:
            return {"rest": 1.0}
        callers = raw[key][4]
        weights = {c: (v[2] if v[2] > 0 else 0.0) for c, v in callers.items()}
        total = sum(weights.values())
        if total <= 0:  # no self time recorded from any caller: weigh by call counts
            weights = {c: float(v[1]) for c, v in callers.items()}
            total = sum(weights.values())
        out: dict[str, float] = {}
        if total <= 0:
            out = {"rest": 1.0}
        else:
            for caller, w in weights.items():
                for c, share in dist(caller, visiting | {key}).items():
                    out[c] = out.get(c, 0.0) + share * w / total
        if cat == "etree":  # Element methods: building, unless called while serializing
            out = _merge((c if c == "serialize" else "etree", s) for c, s in out.items())
        memo[key] = out
        return out

    seconds = dict.fromkeys(CATEGORIES, 0.0)
    for key, (_cc, _nc, tt, _ct, _callers) in raw.items():
        if "_lsprof.Profiler" in key[2]:
            continue
        for cat, share in dist(key, frozenset()).items():
            seconds[cat] += tt * share
    return seconds


def _merge(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in pairs:
        out[k] = out.get(k, 0.0) + v
    return out


def attribute_frames(root: Any) -> dict[str, float]:
    """Seconds per category from a pyinstrument frame tree (nearest categorized ancestor)."""
    seconds = dict.fromkeys(CATEGORIES, 0.0)
    for frame, cat in walk_frames(root):
        seconds[cat] += frame_self_time(frame)
    return seconds


def frame_self_time(frame: Any) -> float:
    """Time spent in ``frame`` itself (not in any child frame)."""
    return max(0.0, frame.time - sum(c.time for c in frame.children))


def walk_frames(root: Any, inherited: str = "rest") -> Iterable[tuple[Any, str]]:
    """Every frame of a pyinstrument tree with its category (depth first)."""
    stack = [(root, inherited)]
    while stack:
        frame, parent_cat = stack.pop()
        cat = parent_cat
        if not frame.is_synthetic:
            rule = categorize(frame.file_path or "", frame.line_no or 0, frame.function or "")
            if rule is not None:
                cat = rule
        yield frame, cat
        stack.extend((child, cat) for child in frame.children)


def shares(seconds: dict[str, float]) -> dict[str, float]:
    """Seconds per category -> percentage per category (adds up to 100)."""
    total = sum(seconds.values())
    if total <= 0:
        raise ValueError("empty profile: no time recorded")
    return {k: 100.0 * v / total for k, v in seconds.items()}
