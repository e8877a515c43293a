"""errors() and measurement_count(): the honest status of a run (lab marks it failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.experiment import Experiment

#: This experiment's plug-in; ``stored`` (the root conftest.py) is its published results.
exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_capped_leaking_cell_is_a_finding(stored: dict[str, Any]) -> None:
    cell = next(c for c in stored["cells"] if c["variant"] == "2.2.0")
    cell["capped"] = {"rss_mb": 6144.0}
    cell["stop_reason"] = "memory cap"
    assert exp.errors(stored) == []


def test_failed_cell_is_an_error(stored: dict[str, Any]) -> None:
    n = exp.measurement_count(stored)
    stored["cells"][0] = {
        "scenario": "async-raise",
        "variant": "2.2.0",
        "python_tag": None,
        "error": "worker did not start",
        "peak_mb": None,
    }
    assert any("worker did not start" in e for e in exp.errors(stored))
    assert exp.measurement_count(stored) == n - 1


def test_crashed_worker_and_lost_messages_are_errors(stored: dict[str, Any]) -> None:
    stored["cells"][1]["crashed"] = {"returncode": -9, "phase": "run"}
    stored["cells"][2]["accounting"].update(lost=3, ok=False)
    errs = exp.errors(stored)
    assert any("crashed" in e for e in errs)
    assert any("lost 3" in e for e in errs)


def test_blind_rss_probe_is_an_error(stored: dict[str, Any]) -> None:
    stored["alloc_check"]["written_rss_growth_mb"] = 0.0
    assert any("RSS probe" in e for e in exp.errors(stored))


def test_empty_run(stored: dict[str, Any]) -> None:
    stored["cells"] = []
    assert exp.errors(stored)
    assert exp.measurement_count(stored) == 0
