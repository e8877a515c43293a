"""errors() and measurement_count(): the honest status of a run (lab marks it failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.experiment import Experiment

#: This experiment's plug-in; ``stored`` (the root conftest.py) is its published results.
exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_failed_engine_is_an_error(stored: dict[str, Any]) -> None:
    row = next(r for r in stored["rows"] if r["engine"] == "jinja2")
    row.update(status="failed", detail="probe exited 1")
    row.pop("median_s", None)
    errs = exp.errors(stored)
    assert errs and any("jinja2" in e for e in errs)


def test_output_differs_is_a_finding_not_an_error(stored: dict[str, Any]) -> None:
    row = next(r for r in stored["rows"] if r["engine"] == "tagflow")
    row["status"] = "output differs"
    row["ranked"] = False
    assert exp.errors(stored) == []


def test_missing_cell_is_an_error(stored: dict[str, Any]) -> None:
    stored["rows"] = [
        r for r in stored["rows"] if not (r["engine"] == "tagflow" and r["scenario"] == "simple")
    ]
    assert any("no row for simple" in e for e in exp.errors(stored))


def test_unusable_interpreter_is_an_error(stored: dict[str, Any]) -> None:
    stored["interpreters"].append(
        {"python": None, "requested": "/bin/true", "reason": "uv venv failed: boom"}
    )
    assert any("/bin/true" in e for e in exp.errors(stored))


def test_empty_run(stored: dict[str, Any]) -> None:
    stored["rows"] = []
    assert exp.errors(stored)
    assert exp.measurement_count(stored) == 0
