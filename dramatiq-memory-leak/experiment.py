"""dramatiq-memory-leak: the `lab` plug-in (see lab/experiment.py).

Quick mode (about 4-5 minutes): the original five scenarios' 16 cells of 3-8 s with half-size
buffers, issue 16's four scenarios (taskgroup, reraise, sync-async, idle) with 2.2.0 and 2.2.1
(taskgroup with the fix too), async-raise / 2.2.0 and taskgroup / 2.2.1 on each other
interpreter, one crash cell of 300 messages and 2 rounds of the fix's throughput cost.
Full mode (`lab run dramatiq-memory-leak --full`, ~35 min): the five original scenarios x 4
variants at 128 MB (async-raise 60 s, chained 40 s, concurrent 30 s, the sync-raise and
async-sleep controls 15 s: cut from 60/60/30/30 s to fit the earlier 15-minute budget), issue
16's four scenarios with 2.2.0, 2.2.1 and 2.2.0+fix on every interpreter (20 s each; idle: a
burst of 8, then 60 s idle), async-raise and chained on each other interpreter, crash cells of
1,000 messages on 2.2.1 and 2.2.0+fix, and 8 paired rounds of 12 s of the fix's cost.
Memory cap: $DRAMATIQ_LEAK_MEM_CAP_GB (default 6).

A harness error (see ``errors``): a cell that failed to run, a worker that crashed, a message
lost or unexpected in a cell's accounting, an RSS probe that does not see written memory, a
missing proof, a crash cell that does not account for every message, fewer than 2 complete
rounds of the fix's cost. A 2.2.0 cell that grows to the memory cap is the finding, not an
error.
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
