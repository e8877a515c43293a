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
    assert "not a leak but delayed freeing" in text
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
