"""Worker process: equivalence check, output size and tracemalloc peak of one engine.

``python -m html_bench._probe --engine E --scenarios a,b`` prints one JSON object: the engine's
availability, library versions, and per scenario the check result and the peak of Python memory
allocated during one render (tracemalloc, after a warm-up render; includes the output string).
Runs in the interpreter under test, so it also answers "does this engine work here".
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import tracemalloc

from html_bench.engines import resolve
from html_bench.scenarios import data
from html_bench.verify import check


def _peak(render, payload) -> int:
    render(payload)  # warm: caches, lazy imports, compiled templates
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        out = render(payload)
        _, peak = tracemalloc.get_traced_memory()
        del out
    finally:
        tracemalloc.stop()
    return max(0, peak - before)


def _estimate(render, payload, budget: float = 0.02) -> float:
    """Rough seconds per render (for choosing loops in quick mode)."""
    n, t0 = 0, time.perf_counter()
    while True:
        render(payload)
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= budget or n >= 10_000:
            return elapsed / n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m html_bench._probe")
    p.add_argument("--engine", required=True)
    p.add_argument("--scenarios", required=True)
    args = p.parse_args(argv)
    engine = resolve(args.engine)
    result: dict = {
        "engine": engine.name,
        "label": engine.label,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "available": engine.available(),
        "versions": engine.versions(),
        "scenarios": {},
    }
    for scenario in args.scenarios.split(","):
        c = check(engine, scenario).as_dict()
        if c["status"] in ("ok", "output differs"):
            try:
                render, payload = engine.renderers()[scenario], data(scenario)
                c["peak_bytes"] = _peak(render, payload)
                c["estimate_s"] = _estimate(render, payload)
            except Exception as exc:  # pragma: no cover - engine broke on the second render
                c["status"], c["detail"] = "failed", f"{type(exc).__name__}: {exc}"
        result["scenarios"][scenario] = c
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
