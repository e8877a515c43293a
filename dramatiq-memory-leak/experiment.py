"""dramatiq-memory-leak: the `lab` plug-in (see lab/experiment.py).

Quick mode: 16 cells of 3-8 s with half-size buffers, plus one on each other
interpreter (about 2 minutes).
Full mode (`lab run dramatiq-memory-leak --full`, ~14 min, budget 15): all 20 cells (5 scenarios
x 4 variants) at 128 MB, plus async-raise (2.2.0, 2.2.1) and chained (2.2.0) on each other
interpreter. Cells last 60 s for async-raise (the headline cell, kept as before), 40 s for chained,
30 s for concurrent, 15 s for the sync-raise and async-sleep controls. Cut to fit the budget (it
took ~19 min): chained 60 -> 40 s, concurrent 60 -> 30 s, sync-raise and async-sleep 30 -> 15 s.
Memory cap: $DRAMATIQ_LEAK_MEM_CAP_GB (default 6).

A harness error (see ``errors``): a cell that failed to run, a worker that crashed, a message
lost or unexpected in a cell's accounting, an RSS probe that does not see written memory, a
missing proof. A 2.2.0 cell that grows to the memory cap is the finding, not an error.
"""

from __future__ import annotations

from typing import Any

from dramatiq_leak import benchmark
from dramatiq_leak.report import decide
from dramatiq_leak.report import readme_sections as _readme_sections
from dramatiq_leak.report import summarize as _summarize

from lab.experiment import Context

TITLE = "dramatiq AsyncIO exception retention: reproduced on Redis, cycle proven, fixes measured"
ISSUE = 8


def run(ctx: Context) -> dict[str, Any]:
    plan = benchmark.QUICK if ctx.quick else benchmark.FULL
    cap = benchmark.mem_cap_mb()
    results = benchmark.run_all(
        ctx.procs,
        ctx.out,
        plan,
        cap,
        log=ctx.log,
        advance=lambda note: ctx.progress.advance(1, note),
        set_total=ctx.progress.set_total,
        artifact=ctx.artifact,
        pythons=benchmark.other_interpreters(ctx.pythons),
    )
    results["verdicts"] = decide(results)
    return results


def errors(results: dict[str, Any]) -> list[str]:
    """Harness errors of the run (findings such as 2.2.0's growth or a capped cell are not)."""
    return benchmark.run_errors(results)


def measurement_count(results: dict[str, Any]) -> int:
    """Memory runs (cells) that completed with an RSS series."""
    return sum(
        1 for c in results.get("cells") or [] if "error" not in c and c.get("peak_mb") is not None
    )


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    return _summarize(results)


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    return _readme_sections(results)
