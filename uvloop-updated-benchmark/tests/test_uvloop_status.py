"""errors() and measurement_count(): the honest status of a run (lab marks it failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.experiment import Experiment

#: This experiment's plug-in; ``stored`` (the root conftest.py) is its published results.
exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def _python_cell(stored: dict[str, Any], section: str = "saturation") -> dict[str, Any]:
    return next(c for c in stored[section] if "engine" not in c["key"])


def test_failed_contender_is_an_error(stored: dict[str, Any]) -> None:
    cell = _python_cell(stored)
    cell.update(ok=False, error="uvloop sockets did not start: ImportError")
    errs = exp.errors(stored)
    assert any(e.startswith("saturation ") and "did not start" in e for e in errs)
    assert exp.measurement_count(stored) == sum(
        len(c["runs"]) for s in exp.SECTIONS for c in stored[s] if c["ok"]
    )


def test_starved_client_or_server_is_an_error(stored: dict[str, Any]) -> None:
    # One starved window fails the run, even where the cell's other windows would suffice.
    cell = _python_cell(stored, "pingpong")
    assert exp.errors(stored) == []
    cell["runs"][3]["problems"] = ["client thread 0 starved (12% of the window waiting)"]
    assert any("client thread 0 starved" in e for e in exp.errors(stored))
    cell["runs"][3]["problems"] = ["server starved (30% of the window waiting for its CPU)"]
    assert any("server starved" in e for e in exp.errors(stored))


def test_client_bound_cell_is_shown_invalid_not_measured(stored: dict[str, Any]) -> None:
    cell = _python_cell(stored)
    cell["extra"]["invalid"] = ["client thread 0 saturated (0.97 cores)"]
    assert exp.errors(stored) == []  # this machine's limit, shown in the tables
    assert "invalid: client-bound" in exp.readme_sections(stored)["saturation"]


def test_interpreter_that_cannot_run_is_an_error(stored: dict[str, Any]) -> None:
    stored["pythons"].append({"exe": "/bin/true", "ok": False, "error": "not a Python"})
    assert any("/bin/true" in e for e in exp.errors(stored))


def test_loop_not_installed_is_an_error(stored: dict[str, Any]) -> None:
    stored["pythons"][-1]["skipped"] = {"rloop": "no wheel for this Python"}
    assert any("rloop not installed" in e for e in exp.errors(stored))


def test_empty_section_is_an_error(stored: dict[str, Any]) -> None:
    stored["pingpong"] = []
    assert exp.errors(stored) == ["pingpong: no cell measured"]


def test_failed_crosscheck_is_an_error(stored: dict[str, Any]) -> None:
    stored["crosscheck"][0].update(ok=False, error="pyclient exited 1")
    assert any(e.startswith("crosscheck") for e in exp.errors(stored))


def test_empty_run(stored: dict[str, Any]) -> None:
    for section in exp.SECTIONS:
        for cell in stored[section]:
            cell["ok"] = False
    assert exp.errors(stored)
    assert exp.measurement_count(stored) == 0


def test_published_verdicts_are_the_stored_ones(stored: dict[str, Any]) -> None:
    from lab.verdicts import problems

    assert problems(stored["verdicts"]) == []
    stored["verdicts"] = [{**stored["verdicts"][0], "answer": "as the run decided"}]
    assert "as the run decided" in exp.readme_sections(stored)["answers"]


def test_a_floor_cell_without_its_user_space_cpu_is_an_error(stored: dict[str, Any]) -> None:
    stored["config"]["sampled"] = 0.5
    cell = next(c for c in stored["saturation"] if "rate" in c["key"] and "engine" in c["key"])
    cell["stats"].pop("server_user_us_per_req", None)
    assert any(e.endswith("C++ epoll: no user-space CPU sampled") for e in exp.errors(stored))
