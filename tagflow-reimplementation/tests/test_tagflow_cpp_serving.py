"""The serving benchmark (experiment.py run_serving): a real run of two short rounds behind
uvicorn with echoload, and how a run's serving figures are judged and reported."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest

from lab.experiment import Context, Experiment
from lab.procs import ProcessGroup

exp = Experiment(Path(__file__).resolve().parents[1].name).load()


def test_a_quick_serving_run_measures_every_engine(tmp_path: Path) -> None:
    started = time.monotonic()
    with ProcessGroup() as procs:  # the lab's own: uvicorn is stopped even if the test fails
        ctx = Context(
            Path(__file__).resolve().parents[1].name,
            quick=True,
            pythons=[],
            procs=procs,
            out=tmp_path,
        )
        res = exp.run_serving(ctx)
    assert res["available"], res.get("reason")
    assert set(res["page_bytes"]) == set(exp.SERVING_ENGINES)
    for engine, cells in res["cells"].items():
        assert len(cells) == exp.SERVING_ROUNDS["quick"], (engine, cells)
        for cell in cells:
            assert "error" not in cell, cell
            assert cell["req_per_s"] > 0 and cell["server_cpu_us_per_req"] > 0
    assert exp.serving_errors(res) == []
    assert "requests/s (median, range)" in exp.serving_section(res)
    assert time.monotonic() - started < 120


def synthetic() -> dict[str, Any]:
    def cell(rps: float) -> dict[str, Any]:
        return {"req_per_s": rps, "server_cpu_us_per_req": 1e6 / rps, "client_cores": 0.05,
                "client_bound": False}  # fmt: skip

    return {
        "available": True, "scenario": "table1000", "rounds": 3, "seconds": 2.0,
        "connections": 8, "pinned": True,
        "cells": {
            "tagflow_cpp": [cell(900), cell(880), cell(910)],
            "jinja2": [cell(180), cell(185), cell(182)],
            "tagflow": [cell(16), cell(15), cell(16)],
        },
    }  # fmt: skip


def test_failed_or_client_bound_rounds_are_errors_and_left_out() -> None:
    res = synthetic()
    assert exp.serving_errors(res) == []
    broken = copy.deepcopy(res)
    broken["cells"]["jinja2"][1] = {"error": "connection 3, response 0: body byte 17 is 'X'"}
    broken["cells"]["tagflow"][0]["client_bound"] = True
    broken["cells"]["tagflow"][1]["client_bound"] = True
    errs = exp.serving_errors(broken)
    assert "serving jinja2: connection 3, response 0: body byte 17 is 'X'" in errs
    assert "serving tagflow: 1 valid rounds of 3 (need 2)" in errs
    # the ratio uses only rounds where both cells are valid
    iv = exp._serving_ratio(broken, "tagflow_cpp", "jinja2")
    assert iv is not None and iv.value == pytest.approx((900 / 180 * 910 / 182) ** 0.5)
    assert exp._serving_ratio(broken, "tagflow_cpp", "tagflow") is None


def test_verdicts_name_a_winner_only_outside_the_interval() -> None:
    res = synthetic()
    answers = {v["question"].rsplit(" ", 1)[-1]: v["answer"] for v in exp.serving_verdicts(res)}
    assert answers == {"jinja2": "tagflow_cpp faster", "tagflow": "tagflow_cpp faster"}
    tie = synthetic()
    rates = (950, 850, 905)
    tie["cells"]["jinja2"] = [
        dict(c, req_per_s=r) for c, r in zip(tie["cells"]["jinja2"], rates, strict=True)
    ]
    answers = {v["question"].rsplit(" ", 1)[-1]: v["answer"] for v in exp.serving_verdicts(tie)}
    assert answers["jinja2"] == "no difference shown"


def test_an_unavailable_serving_part_fails_the_run(stored: dict[str, Any]) -> None:
    stored["serving"] = {"available": False, "reason": "echoload is not built (run `make build`)"}
    assert "serving: echoload is not built (run `make build`)" in exp.errors(stored)
