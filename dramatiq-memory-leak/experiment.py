"""dramatiq-memory-leak: the `lab` plug-in (see lab/experiment.py).

Quick mode: 16 cells of 3-8 s with half-size buffers, plus one on each other
interpreter (about 2 minutes).
Full mode (`lab run dramatiq-memory-leak --full`): all 20 cells, 30-60 s, 128 MB.
Memory cap: $DRAMATIQ_LEAK_MEM_CAP_GB (default 6).
"""

from __future__ import annotations

from typing import Any

from dramatiq_leak import benchmark
from dramatiq_leak.report import readme_sections as _readme_sections
from dramatiq_leak.report import summarize as _summarize

from lab.experiment import Context

TITLE = "dramatiq AsyncIO exception retention: reproduced on Redis, cycle proven, fixes measured"
ISSUE = 8


def run(ctx: Context) -> dict[str, Any]:
    plan = benchmark.QUICK if ctx.quick else benchmark.FULL
    cap = benchmark.mem_cap_mb()
    return benchmark.run_all(
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


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    return _summarize(results)


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    return _readme_sections(results)
