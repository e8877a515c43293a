"""errors() and measurement_count(): the honest status of a run (lab marks it failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.experiment import Experiment

#: This experiment's plug-in; ``stored`` (the root conftest.py) is its published results.
exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_original_plugin_not_importing_is_a_finding(stored: dict[str, Any]) -> None:
    original = stored["tools"]["original"]
    assert original["import_ok"] is False  # the stored run shows the finding...
    assert any(e.startswith("import:") for e in original["errors"])
    assert exp.errors(stored) == []  # ...and it is not a harness error


def test_every_build_failed_like_python_bin_true(stored: dict[str, Any]) -> None:
    # What `lab run hatchling-pyo3-plugin --python /bin/true` records: every uv build fails.
    for res in stored["tools"].values():
        for kind in ("cold_s", "warm_s", "warm_recompiled", "editable_noop_s"):
            res[kind] = []
        res["errors"] = ["cold wheel build: error: Failed to inspect Python interpreter"] * 3
        res["errors"].append("wheel: no wheel left to check (every build failed?)")
        for key in ("import_ok", "editable_ok", "wheel", "tag"):
            res.pop(key, None)
    for entry in stored["parity"]["fixtures"].values():  # the parity builds fail alike
        for res in entry["tools"].values():
            if "cold_s" in res:
                res["cold_s"], res["warm_s"] = [], []
    errs = exp.errors(stored)
    assert errs
    assert any("no successful cold build" in e for e in errs)
    assert any(e.startswith("parity ") and "0 of 5 cold builds" in e for e in errs)
    assert exp.measurement_count(stored) == 0


def test_failed_build_of_the_original_is_an_error(stored: dict[str, Any]) -> None:
    stored["tools"]["original"]["errors"].append("warm wheel build: cargo failed")
    stored["tools"]["original"]["warm_s"].pop()
    errs = exp.errors(stored)
    assert any(e.startswith("original: warm wheel build") for e in errs)
    assert any("4 of 5 warm builds" in e for e in errs)


def test_ours_not_importing_is_an_error(stored: dict[str, Any]) -> None:
    stored["tools"]["ours"]["import_ok"] = False
    stored["tools"]["ours"]["errors"].append("import: ModuleNotFoundError: pyo3_demo")
    assert any(e.startswith("ours: import:") for e in exp.errors(stored))


def test_failed_sdist_is_an_error(stored: dict[str, Any]) -> None:
    stored["tools"]["maturin"]["errors"].append("sdist build: error")
    assert exp.errors(stored) == ["maturin: sdist build: error"]


def test_verdicts_are_decided_from_the_run_and_rendered_as_stored(stored: dict[str, Any]) -> None:
    from lab.verdicts import find, problems

    decided = exp.verdicts(stored)
    assert problems(decided) == []
    imports = find(decided, "imports in a fresh venv: original plugin vs ours")
    assert imports is not None and imports["answer"] == "fixed"
    cold = find(decided, "cold build time, ours vs maturin (pyo3-demo)")
    assert cold is not None and cold["thresholds"] == {"goal": 1.10}
    # the README shows what the run stored, not what the code would decide today
    stored["verdicts"] = [{**imports, "answer": "as stored at run time"}]
    assert "as stored at run time" in exp.readme_sections(stored)["verdict"]
