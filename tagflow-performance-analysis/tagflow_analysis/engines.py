"""The ladder rungs as html_bench engines, and the equivalence check of every rung.

html_bench resolves an engine spec ``"tagflow_analysis.engines:<factory>"`` by import inside
each pyperf worker process, so every rung runs in its own workers and nothing of one rung can
leak into another engine. Factories are made on demand from their names:

* ``rung_a``, ``rung_ab``, ``rung_abcd``, ... -> tagflow 0.12.0 with those rungs
  (``tagflow_analysis.ladder``);
Rungs e, f and g are the html_bench engines ``pybuilder`` (registered by this package, see
``tagflow_analysis.plugin``), ``tagflow_cpp.compat`` and ``tagflow_cpp``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tagflow_analysis import ladder

PREFIX = "tagflow_analysis.engines:"


@dataclass(frozen=True)
class Rung:
    """One row of the ladder."""

    key: str  # "a", "a+b", "e", ...
    label: str
    engine: str  # html_bench engine name or spec
    cumulative: bool  # part of the cumulative path (a, a+b, a+b+c, ...)


def ladder_rungs() -> list[Rung]:
    """The ladder in table order: each of a-d alone, then cumulative, then e, f, g."""
    rows = [
        Rung(r, f"{r}: {ladder.RUNGS[r]}", f"{PREFIX}rung_{r}", cumulative=(r == "a"))
        for r in ladder.RUNGS
    ]
    letters = list(ladder.RUNGS)
    for i in range(2, len(letters) + 1):
        spec = "+".join(letters[:i])
        rows.append(
            Rung(spec, f"{spec} (cumulative)", f"{PREFIX}rung_{''.join(letters[:i])}", True)
        )
    rows += [
        Rung("e", "e: pure-Python string builder, correct HTML", "pybuilder", True),
        Rung(
            "f-",
            "f-: tagflow_cpp compat, tag/text dispatch in Python (first design)",
            "tagflow_analysis.compat_variants:renderers",
            False,
        ),
        Rung("f", "f: tagflow_cpp compat API (same scenario code)", "tagflow_cpp.compat", True),
        Rung("g", "g: tagflow_cpp explicit API", "tagflow_cpp", True),
    ]
    return rows


def rung_renderers(spec: str) -> dict[str, Callable[[Any], str]]:
    """{scenario: render} of tagflow with the rungs in ``spec``, via the shared scenario code."""
    from html_bench import tagflow_api

    return tagflow_api.renderers(ladder.variant(spec))


def __getattr__(name: str) -> Callable[[], dict[str, Callable[[Any], str]]]:
    """``rung_<letters>`` factories, made on first access (module-level __getattr__, PEP 562)."""
    if name.startswith("rung_") and len(name) > 5:
        spec = "+".join(name[5:])
        ladder.parse(spec)  # clear error for unknown letters

        def factory() -> dict[str, Callable[[Any], str]]:
            return rung_renderers(spec)

        factory.__name__ = name
        return factory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_rungs(rungs: list[str] | None = None) -> dict[str, Any]:
    """Render every scenario with tagflow and with each rung; compare after normalization.

    Returns ``{rung: {scenario: None | first difference}}`` (None means equivalent) plus the
    reason for rungs whose engine is not available here.
    """
    from html_bench import engines, equivalence, scenarios

    base = engines.resolve("tagflow").renderers()
    out: dict[str, Any] = {}
    for rung in ladder_rungs():
        if rungs is not None and rung.key not in rungs:
            continue
        eng = engines.resolve(rung.engine)
        why = eng.available()
        if why is not None:
            out[rung.key] = {"available": why}
            continue
        rends = eng.renderers()
        res: dict[str, Any] = {"available": None}
        for name, sc in scenarios.SCENARIOS.items():
            data = sc.build()
            res[name] = equivalence.first_difference(base[name](data), rends[name](data))
        out[rung.key] = res
    return out
