"""The ladder table's arithmetic: speedups, ratios to Jinja2, geo-means, reference drift."""

from __future__ import annotations

import math

import pytest
from tagflow_analysis import report
from tagflow_analysis.engines import Rung


def _row(spec: str, scenario: str, median: float, status: str = "ok") -> dict:
    return {
        "spec": spec,
        "scenario": scenario,
        "status": status,
        "median_s": median,
        "q1_s": median * 0.9,
        "q3_s": median * 1.1,
        "detail": None if status == "ok" else "not installed: x",
    }


def test_tagflow_analysis_ladder_table_ratios_and_drift():
    scen = ["s1", "s2"]
    rows = [
        _row("tagflow", "s1", 4.0), _row("tagflow", "s2", 9.0),
        _row("jinja2", "s1", 1.0), _row("jinja2", "s2", 1.0),
        _row("x:a", "s1", 2.0), _row("x:a", "s2", 3.0),
        _row("x:ab", "s1", 1.0), _row("x:ab", "s2", 1.0),
        _row("cpp", "s1", 0.0, "unavailable"), _row("cpp", "s2", 0.0, "unavailable"),
    ]  # fmt: skip
    again = [_row("tagflow", "s1", 16.0), _row("tagflow", "s2", 9.0)]
    rungs = [Rung("a", "a", "x:a", True), Rung("a+b", "a+b", "x:ab", True),
             Rung("g", "g", "cpp", True)]  # fmt: skip
    table = report.ladder_table(rows, rungs, scen, again)
    by = {r["key"]: r for r in table["rows"]}
    # tagflow on s1: geometric mean of 4 and 16 = 8
    assert by["tagflow"]["scenarios"]["s1"]["median_s"] == pytest.approx(8.0)
    assert table["reference_drift"]["tagflow"] == {"s1": 4.0, "s2": 1.0}
    assert by["a"]["scenarios"]["s1"]["speedup"] == pytest.approx(4.0)
    assert by["a"]["scenarios"]["s2"]["speedup"] == pytest.approx(3.0)
    assert by["a"]["speedup_geo"] == pytest.approx(math.sqrt(12.0))
    assert by["a"]["vs_jinja_geo"] == pytest.approx(math.sqrt(6.0))
    assert by["a+b"]["marginal"] == pytest.approx(by["a+b"]["speedup_geo"] / by["a"]["speedup_geo"])
    assert by["g"]["unavailable"] == "not installed: x" and by["g"]["speedup_geo"] is None
    assert by["tagflow"]["complete"] and not by["g"]["complete"]


def test_tagflow_analysis_geomean_ignores_missing_values():
    assert report.geomean([2.0, 8.0, None]) == pytest.approx(4.0)
    assert report.geomean([]) is None
