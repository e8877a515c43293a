"""The free-threading benchmark (bench/ft_scaling.py, experiment.py run_scaling): the script's
output on the lab interpreter, and how a run's scaling figures are judged and reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from lab.experiment import Experiment

HERE = Path(__file__).resolve().parents[1]
SCRIPT = HERE / "bench" / "ft_scaling.py"
exp = Experiment(HERE.name).load()


def test_the_script_times_every_page_and_thread_count() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "2", "--seconds", "0.05", "--threads", "1,2"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert data["gil_enabled"] and not data["free_threaded"]  # the lab's own 3.11
    seen = {(c["round"], c["page"], c["threads"]) for c in data["cells"]}
    assert seen == {(r, p, n) for r in (0, 1) for p in ("explicit", "compat") for n in (1, 2)}
    assert all(c["pages"] > 0 and c["wall_s"] >= 0.05 and c["cpu_s"] > 0 for c in data["cells"])
    # the thread counts alternate their order between rounds
    order = [c["threads"] for c in data["cells"] if c["page"] == "explicit"]
    assert order == [1, 2, 2, 1]


def test_the_script_refuses_bad_arguments() -> None:
    for args in (["--threads", "0"], ["--rounds", "0"], ["--seconds", "-1"]):
        proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2, (args, proc.stderr)


def synthetic(ft_factor: float, gil_factor: float) -> dict[str, Any]:
    def build(factor: float, free: bool) -> dict[str, Any]:
        cells = []
        for r in range(4):
            for page in ("explicit", "compat"):
                one = 1000.0 + 10 * r
                cells.append({"round": r, "page": page, "threads": 1, "pages": one,
                              "wall_s": 1.0, "cpu_s": 1.0})  # fmt: skip
                cells.append({"round": r, "page": page, "threads": 2,
                              "pages": one * factor * (1 + 0.01 * (r % 2)), "wall_s": 1.0,
                              "cpu_s": 2.0 if free else 1.0})  # fmt: skip
        return {"python": "3.13.5", "free_threaded": free, "gil_enabled": not free, "cpus": 2,
                "rows": 1000, "seconds": 1.0, "cells": cells}  # fmt: skip

    return {
        "available": True, "rounds": 4, "seconds": 1.0, "threads": [1, 2],
        "builds": {"free-threaded": build(ft_factor, True), "GIL": build(gil_factor, False)},
    }  # fmt: skip


def test_verdicts_name_a_winner_only_outside_the_interval() -> None:
    got = {v["question"]: v["answer"] for v in exp.scaling_verdicts(synthetic(1.9, 1.0))}
    ft = [a for c, a in got.items() if "free-threaded" in c]
    gil = [a for c, a in got.items() if c.endswith("GIL")]
    assert ft == ["2 threads faster", "2 threads faster"]
    assert gil == ["no difference shown", "no difference shown"]
    slower = {v["answer"] for v in exp.scaling_verdicts(synthetic(0.5, 0.5))}
    assert slower == {"2 threads slower"}


def test_section_shows_rates_ratio_and_cores() -> None:
    text = exp.scaling_section(synthetic(1.9, 1.0))
    assert "| 3.13.5 free-threaded, GIL off | explicit API | 1,015 | 1,938 |" in text
    assert "| 3.13.5 with the GIL | compat |" in text
    assert "| 2.00 |" in text and "| 1.00 |" in text  # CPU cores busy
    missing = {"available": False, "reason": "free-threaded CPython 3.13t is not built"}
    assert exp.scaling_section(missing) == f"Not measured: {missing['reason']}."


def test_a_missing_free_threaded_build_fails_only_a_full_run() -> None:
    base: dict[str, Any] = {"rows": [], "analysis": {"goals": []}}
    for part in ("ceiling", "binding_choice"):
        base[part] = {"available": True}
    quick = {**base, "scaling": {"available": False, "required": False, "reason": "no 3.13t"}}
    full = {**base, "scaling": {"available": False, "required": True, "reason": "no 3.13t"}}
    assert not [e for e in exp.errors(quick) if e.startswith("scaling")]
    assert "scaling: no 3.13t" in exp.errors(full)
