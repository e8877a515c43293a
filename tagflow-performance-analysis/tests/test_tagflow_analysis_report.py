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


def test_tagflow_analysis_row_geomean_needs_every_scenario():
    cells = [{"speedup": 2.0}, {"speedup": 8.0}]
    assert report._complete_geo(cells, "speedup", 2) == pytest.approx(4.0)  # not 5.0
    assert report._complete_geo(cells, "speedup", 3) is None
    assert report._complete_geo([*cells, {"speedup": None}], "speedup", 3) is None


def _shares(**kw: float) -> dict[str, float]:
    from tagflow_analysis.attribution import CATEGORIES

    out = dict.fromkeys(CATEGORIES, 0.0)
    out.update(kw)
    out["rest"] = 100.0 - sum(v for k, v in out.items() if k != "rest")
    return out


def test_tagflow_analysis_readme_sections_survive_missing_cpp_engine():
    """Without tagflow_cpp (rungs f, f-, g unavailable, no callgrind) every section renders."""
    from tagflow_analysis.engines import ladder_rungs
    from tagflow_analysis.report import ORIGINAL

    scen = ["complex", "table100"]
    rows = []
    for r in ladder_rungs():
        status = "unavailable" if r.key in ("f-", "f", "g") else "ok"
        rows += [_row(r.engine, s, 1.0, status) for s in scen]
    rows += [_row("tagflow", s, 4.0) for s in scen] + [_row("jinja2", s, 0.5) for s in scen]
    prof = {
        "cprofile": {"shares": _shares(closure=30, events=10, ids=10, serialize=12, attrnames=2)},
        "sampling": {"shares": _shares(closure=28, events=12, ids=9, serialize=14)},
        "top_functions": [{"function": "functools.py:35(update_wrapper)", "self_pct": 9.0}],
    }
    results = {
        "mode": "quick",
        "settings": {"processes": 1, "values": 5},
        "profiles": {"complex": prof, "table100": prof},
        "profile_after_abcd": {"cprofile": {"shares": _shares(serialize=40, tagflow=30)}},
        "equivalence_vs_tagflow": {},
        "ladder": report.ladder_table(rows, ladder_rungs(), scen),
        "cpp": {
            "available": "tagflow_cpp is not installed",
            "scenarios": {},
            "ceiling": {"available": "bench_tagflow_pages not built"},
            "perf": "hardware counters are not available",
        },
        "original": ORIGINAL,
    }
    sections = report.readme_sections(results)
    assert set(sections) == {"attribution", "ladder", "verdicts", "maintainers", "native"}
    assert "not available" in sections["ladder"]
    assert "tagflow_cpp is not installed" in sections["native"]
    assert "4.00x" in sections["ladder"]  # every measured rung: 4.0 / 1.0
    assert "14.55x" in sections["verdicts"]  # the original's figure, beside ours
    assert report.summary_rows(results)
