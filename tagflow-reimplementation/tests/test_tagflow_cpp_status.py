"""errors() and measurement_count(): the honest status of a run (lab marks it failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.experiment import Experiment

#: This experiment's plug-in; ``stored`` (the root conftest.py) is its published results.
exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_failed_engine_is_an_error(stored: dict[str, Any]) -> None:
    row = next(r for r in stored["rows"] if r["spec"] == "tagflow_cpp")
    row.update(status="output differs", detail="first difference at 3")
    assert any(e.startswith("tagflow_cpp / ") for e in exp.errors(stored))


def test_missing_cell_is_an_error(stored: dict[str, Any]) -> None:
    stored["rows"] = [r for r in stored["rows"] if r["scenario"] != "escaping"]
    errs = exp.errors(stored)
    assert any("escaping" in e and "missing" in e for e in errs)


def test_unusable_interpreter_and_missing_ceiling_are_errors(stored: dict[str, Any]) -> None:
    stored["other_interpreters"].append({"requested": "/bin/true", "reason": "uv venv failed"})
    stored["ceiling"] = {"available": False, "reason": "not built (run `make build`)"}
    errs = exp.errors(stored)
    assert any("/bin/true" in e for e in errs)
    assert any(e.startswith("ceiling:") for e in errs)


def test_empty_run(stored: dict[str, Any]) -> None:
    stored["rows"] = []
    stored["other_interpreters"] = []
    stored["ceiling"] = {"available": False, "reason": "x"}
    stored["binding_choice"] = {"available": False, "reason": "x"}
    stored["serving"] = {"available": False, "reason": "x"}
    stored["scaling"] = {"available": False, "required": True, "reason": "x"}
    assert exp.errors(stored)
    assert exp.measurement_count(stored) == 0
