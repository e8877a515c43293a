"""errors() and measurement_count(): the honest status of a run (lab marks it failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.experiment import Experiment

#: This experiment's plug-in; ``stored`` (the root conftest.py) is its published results.
exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_rung_that_does_not_verify_is_an_error(stored: dict[str, Any]) -> None:
    row = next(r for r in stored["measure_rows"] if r["spec"] not in ("tagflow", "jinja2"))
    row.update(status="output differs", detail="first difference at 12")
    assert any("output differs" in e for e in exp.errors(stored))


def test_missing_ladder_cell_is_an_error(stored: dict[str, Any]) -> None:
    stored["measure_rows"].pop()
    assert any("no measure_rows row" in e for e in exp.errors(stored))


def test_callgrind_failure_and_missing_ceiling_are_errors(stored: dict[str, Any]) -> None:
    sc = next(iter(stored["cpp"]["scenarios"]))
    stored["cpp"]["scenarios"][sc]["explicit"] = {"error": "valgrind not found"}
    stored["cpp"]["ceiling"] = {"available": "bench_tagflow_pages failed (1)"}
    errs = exp.errors(stored)
    assert any("valgrind" in e for e in errs)
    assert any("ceiling" in e for e in errs)


def test_empty_run(stored: dict[str, Any]) -> None:
    stored["measure_rows"] = []
    stored["measure_rows_again"] = []
    stored["cpp"] = {"available": "tagflow_cpp is not installed", "scenarios": {}}
    assert exp.errors(stored)
    assert exp.measurement_count(stored) == 0
