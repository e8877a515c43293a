"""The generated README text follows the numbers (verdicts are computed, never fixed)."""

from __future__ import annotations

from typing import Any

from dramatiq_leak import report


def _cell(scenario: str, variant: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scenario": scenario,
        "variant": variant,
        "python_tag": None,
        "mb": 128,
        "duration_s": 60.0,
        "attempts": 100,
        "peak_mb": 157.0,
        "final_mb": 30.0,
        "growth_mb_per_retry": 0.0,
        "bulk_drops": 0,
        "bulk_drop_marks": [],
        "bulk_drop_sizes_mb": [],
        "drops_matched_to_gc": 0,
        "drop_gc_generations": [],
        "s_between_drops": None,
        "full_collections": 0,
        "gc_time_ms": 1.0,
        "gc_max_pause_ms": 0.1,
        "live_exceptions_max": 1,
        "live_exceptions_final": 0,
        "throughput_per_s": 3.0,
        "cpu_percent": 20.0,
        "cpu_ms_per_attempt": 70.0,
        "capped": None,
        "crashed": None,
        "accounting": {
            "enqueued": 1, "succeeded": 0, "dead_lettered": 0, "still_queued": 1,
            "lost": 0, "unexpected": 0,
        },
    }  # fmt: skip
    base.update(over)
    return base


def _results(affected: dict[str, Any], sync_live: int = 1) -> dict[str, Any]:
    return {
        "mode": "full",
        "plan": {"durations_s": {"async-raise": 60}, "scale": 1.0},
        "cells": [
            affected,
            _cell("async-raise", "2.2.1"),
            _cell("async-raise", "2.2.0+fix"),
            _cell("sync-raise", "2.2.0", live_exceptions_max=sync_live),
            _cell("async-sleep", "2.2.0", live_exceptions_max=0),
        ],
    }


def test_dleak_verdict_reports_the_sawtooth_from_its_numbers() -> None:
    affected = _cell(
        "async-raise",
        "2.2.0",
        peak_mb=2400.0,
        growth_mb_per_retry=120.0,
        bulk_drops=2,
        bulk_drop_marks=[[4.0, 1500.0, 0], [8.0, 2400.0, 0]],
        bulk_drop_sizes_mb=[1300, 2200],
        drops_matched_to_gc=2,
        drop_gc_generations=[0, 0],
        s_between_drops=4.0,
        live_exceptions_max=18,
    )
    text = _findings(_results(affected))
    assert "a reference cycle freed at the next collection" in text
    assert "back to 200-200 MB" in text
    assert "generation 0 (2x)" in text
    assert "2400 MB against 157 MB" in text
    assert "The controls stay flat" in text
    table = report.summary_table(_results(affected))
    assert "| async-raise | 2.2.0 | 128 | 100 | 2,400 |" in table


def test_dleak_verdict_changes_when_the_numbers_do() -> None:
    no_drop = _cell("async-raise", "2.2.0", peak_mb=900.0)
    text = _findings(_results(no_drop, sync_live=5))
    assert "growth without a drop within this cell" in text
    assert "no drop happened" in text
    assert "do NOT stay flat" in text


def _findings(results: dict[str, Any]) -> str:
    """What the run would store (decide) and the README would then say (findings)."""
    results["verdicts"] = report.decide(results)
    return report.findings(results)


def test_dleak_readme_renders_the_stored_verdicts_not_new_ones() -> None:
    results = _results(_cell("async-raise", "2.2.0", peak_mb=900.0), sync_live=5)
    decided = report.decide(results)
    controls = next(v for v in decided if v["question"] == report.Q_CONTROLS)
    assert controls["answer"] == "does not hold" and controls["thresholds"]["live_exceptions"] == 1
    results["verdicts"] = [{**controls, "answer": "holds"}]  # what an older run decided
    assert "The controls stay flat" in report.findings(results)


def _added(tag: str | None, taskgroup_live: dict[str, int], idle: dict[str, Any]) -> list:
    cells = []
    for key in report.ADDED_RETRY:
        for v in report.ADDED_VARIANTS:
            live = taskgroup_live.get(v, 1) if key == "taskgroup" else 1
            cells.append(_cell(key, v, python_tag=tag, live_exceptions_max=live))
    for v in report.ADDED_VARIANTS:
        cells.append(_cell("idle", v, python_tag=tag, idle=idle if v == "2.2.0" else None))
    return cells


IDLE_HELD = {
    "burst_end_s": 4.0, "watched_s": 60.0, "boot_mb": 30.0, "burst_peak_mb": 1050.0,
    "end_mb": 1040.0, "held_mb": 1010.0, "released_after_s": None,
    "collections_while_idle": 0, "full_collections_while_idle": 0, "live_exceptions_end": 8,
}  # fmt: skip


def test_dleak_added_verdicts_follow_each_interpreters_cells() -> None:
    results = {
        "python": "3.11",
        "cells": [
            *_added(None, {"2.2.0": 12, "2.2.1": 12}, IDLE_HELD),
            *_added("py3.13", {"2.2.0": 12}, {**IDLE_HELD, "released_after_s": 9.5}),
        ],
    }
    got = {v["question"]: v["answer"] for v in report.added_verdicts(results)}
    tg311 = "TaskGroup child raises (ExceptionGroup): exceptions kept alive (Python 3.11)"
    tg313 = tg311.replace("3.11", "3.13")
    assert got[tg311] == "retained by 2.2.0, 2.2.1; freed by 2.2.0+fix"
    assert got[tg313] == "retained by 2.2.0; freed by 2.2.1, 2.2.0+fix"
    re311 = next(q for q in got if q.startswith("catch, log, bare re-raise") and "3.11" in q)
    assert got[re311] == "retained by none; freed by 2.2.0, 2.2.1, 2.2.0+fix"
    idle311 = "an idle 2.2.0 worker after a burst of failures (Python 3.11)"
    assert got[idle311] == "held until the next collection, which an idle worker never triggers"
    assert got[idle311.replace("3.11", "3.13")] == "released after 9.5 s idle"
    table = report.added_section(results)
    assert "| TaskGroup child raises (ExceptionGroup) | 3.11 | 2.2.1 |" in table
    assert "not in 60 s" in table and "9.5 s" in table


def test_dleak_fix_cost_verdict_needs_the_interval_inside_the_band() -> None:
    def cost(ratios: list[float]) -> dict[str, Any]:
        rounds = [{"2.2.1": 100.0, "2.2.0+fix": 100.0 * r} for r in ratios]
        return {"seconds": 12.0, "rounds": rounds, "errors": []}

    def answer(ratios: list[float]) -> str:
        (v,) = report.fix_cost_verdict(cost(ratios))
        return v["answer"]

    assert answer([0.999, 1.001, 1.0, 0.998, 1.002, 1.0]) == "holds: costs at most 2%"
    assert answer([1.03, 1.04, 1.03, 1.035]).startswith("holds: costs at most 2%, 3.")
    assert answer([0.90, 0.91, 0.89, 0.90, 0.92]).startswith("no: ")
    assert answer([0.90, 1.10, 0.95, 1.05, 1.0]) == "not shown: the interval reaches below -2%"
    assert report.fix_cost_verdict(cost([1.0])) == []  # one round: no interval, no verdict
    from dramatiq_leak import benchmark

    errors = benchmark.run_errors({"cells": [], "fix_cost": cost([1.0])})
    assert "fix cost: fewer than 2 complete rounds" in errors


def test_dleak_broker_verdict_allows_one_failure_in_flight_per_thread() -> None:
    # The multi cell's processes have 2 threads each: 2 exceptions alive at once is two
    # failures in flight, not retention (the full run of 2026-11-27 15:10 called it retention).
    cells = []
    for broker in ("redis", "rabbitmq"):
        for v, live in (("2.2.0", 30), ("2.2.1", 2), ("2.2.0+fix", 2)):
            cells.append(_cell("multi", v, broker=broker, threads=2, live_exceptions_max=live))
    (v,) = report.broker_verdicts({"cells": cells})
    assert v["answer"] == "no: the same variants retain on both (2.2.0)"
    cells[-1]["live_exceptions_max"] = 3  # one more than its threads: retained
    (v,) = report.broker_verdicts({"cells": cells})
    assert v["answer"] == "yes: on Redis 2.2.0, on RabbitMQ 2.2.0, 2.2.0+fix"
