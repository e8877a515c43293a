"""Equivalence before timing: render each scenario with an engine, compare with the reference."""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from html_bench import equivalence, reference, scenarios
from html_bench.engines import Engine, resolve
from html_bench.scenarios import data


@dataclass
class Check:
    engine: str
    scenario: str
    #: "ok", "output differs", "failed" (raised) or "unavailable" (not installed, ...)
    status: str
    detail: str | None = None
    size: int | None = None  # output length in characters
    size_bytes: int | None = None  # UTF-8 bytes

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def reference_normalized(scenario: str) -> str:
    return equivalence.normalize(reference.render(scenario, data(scenario)))


def check(engine: Engine | str, scenario: str) -> Check:
    """Render ``scenario`` with ``engine`` once and compare it with the reference."""
    scenarios.get(scenario)  # clear error for a bad name
    eng = resolve(engine) if isinstance(engine, str) else engine
    reason = eng.available()
    if reason is not None:
        return Check(eng.name, scenario, "unavailable", reason)
    try:
        render = eng.renderers()[scenario]
        html = render(data(scenario))
        if not isinstance(html, str):
            return Check(eng.name, scenario, "failed", f"returned {type(html).__name__}, not str")
    except Exception as exc:
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Check(eng.name, scenario, "failed", tb)
    diff = equivalence.first_difference(
        reference_normalized(scenario), equivalence.normalize(html), normalized=True
    )
    size_bytes = len(html.encode("utf-8", "surrogatepass"))
    if diff is not None:
        return Check(eng.name, scenario, "output differs", diff, len(html), size_bytes)
    return Check(eng.name, scenario, "ok", None, len(html), size_bytes)


def check_all(engine: Engine | str, names: list[str] | None = None) -> list[Check]:
    return [check(engine, s) for s in (names or list(scenarios.SCENARIOS))]
