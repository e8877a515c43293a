"""errors() and measurement_count(): the honest status of a run (lab marks it failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.experiment import Experiment

#: This experiment's plug-in; ``stored`` (the root conftest.py) is its published results.
exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_failed_cell_is_an_error(stored: dict[str, Any]) -> None:
    cell = stored["grid"][0]
    cell.update(ok=False, error="uvloop sockets did not start: ImportError")
    errs = exp.errors(stored)
    assert any(e.startswith("grid ") and "did not start" in e for e in errs)
    assert exp.measurement_count(stored) == len(
        [c for s in exp.SECTIONS for c in stored[s] if c["ok"]]
    )


def test_interpreter_that_cannot_run_is_an_error(stored: dict[str, Any]) -> None:
    stored["pythons"].append({"exe": "/bin/true", "ok": False, "error": "not a Python"})
    assert any("/bin/true" in e for e in exp.errors(stored))


def test_loop_not_installed_is_an_error(stored: dict[str, Any]) -> None:
    stored["pythons"][-1]["skipped"] = {"rloop": "no wheel for this Python"}
    assert any("rloop not installed" in e for e in exp.errors(stored))


def test_empty_section_is_an_error(stored: dict[str, Any]) -> None:
    stored["ceiling"] = []
    assert exp.errors(stored) == ["ceiling: no cell measured"]


def test_failed_crosscheck_is_an_error(stored: dict[str, Any]) -> None:
    stored["crosscheck"][0].update(ok=False, error="pyclient exited 1")
    assert any(e.startswith("crosscheck") for e in exp.errors(stored))


def test_empty_run(stored: dict[str, Any]) -> None:
    for section in exp.SECTIONS:
        for cell in stored[section]:
            cell["ok"] = False
    assert exp.errors(stored)
    assert exp.measurement_count(stored) == 0
