"""The harness: probe and pyperf workers, failure reporting, environments, report arithmetic."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from html_bench import envs, measure, report
from html_bench.scenarios import UnknownNameError


def _rows_by(rows, key="engine"):
    return {(r[key], r["scenario"]): r for r in rows}


def test_html_bench_measure_times_and_reports_failures() -> None:
    engines = [
        "fstring",
        "html_bench.engines._selftest:raising",
        "html_bench.engines._selftest:unescaped",
        "html_bench.engines._selftest:missing",
    ]
    rows = measure.measure(engines, ["simple", "escaping"], quick=True)
    by = {(r["spec"], r["scenario"]): r for r in rows}
    ok = by[("fstring", "simple")]
    assert ok["status"] == "ok" and ok["ranked"]
    assert ok["q1_s"] <= ok["median_s"] <= ok["q3_s"]
    assert ok["n_values"] == measure.QUICK.values * measure.QUICK.total_processes
    assert ok["rounds"] == measure.QUICK.rounds
    assert ok["loops"] >= 1 and ok["peak_bytes"] > 0 and ok["size_bytes"] > 100
    raising = by[("html_bench.engines._selftest:raising", "simple")]
    assert raising["status"] == "failed" and "always fails" in raising["detail"]
    assert "median_s" not in raising
    plain = by[("html_bench.engines._selftest:unescaped", "simple")]
    assert plain["status"] == "ok"
    bad = by[("html_bench.engines._selftest:unescaped", "escaping")]
    assert bad["status"] == "output differs" and not bad["ranked"]
    assert bad["detail"].startswith("node ") and bad["median_s"] > 0  # timed, not ranked
    missing = by[("html_bench.engines._selftest:missing", "simple")]
    assert missing["status"] == "unavailable" and "no_such_module_xyz" in missing["detail"]


def test_html_bench_measure_rejects_bad_names_before_starting() -> None:
    with pytest.raises(UnknownNameError, match="valid scenarios"):
        measure.measure(["fstring"], ["nope"], quick=True)
    with pytest.raises(UnknownNameError, match="valid engines"):
        measure.measure(["nope"], ["simple"], quick=True)


def test_html_bench_probe_of_broken_spec_is_reported() -> None:
    info = measure.probe(sys.executable, "html_bench.scenarios:get", ["simple"], subprocess.run)
    assert "error" in info and "TypeError" in info["error"]


def test_html_bench_envs_self_and_missing_interpreters() -> None:
    me = envs.bench_python(sys.executable)
    assert me.python == sys.executable and me.reason is None
    gone = envs.bench_python("/nonexistent/bin/python3")
    assert gone.python is None and "not found" in gone.reason


def test_html_bench_envs_install_no_workspace_package() -> None:
    # The lab toolkit is a dependency of html_bench in the workspace but on no index: an
    # environment for another interpreter must not ask for it (a 3.13 build failed on it).
    args = [a for step in envs.steps("3.13.5") for a in step.args]
    assert not [a for a in args if a.startswith("experiments-lab")], args
    assert "jinja2==3.1.6" in args
    assert envs._name("tagflow @ https://x/y.whl") == "tagflow"
    assert envs._name("dominate==2.9.1") == "dominate"
    assert envs._name("a[extra]>=1; python_version > '3'") == "a"


def test_html_bench_envs_broken_interpreter_is_skipped(tmp_path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    fake.chmod(0o755)
    env = envs.bench_python(str(fake), cache=tmp_path / "cache")
    assert env.python is None and "broken" in env.reason


def _row(engine, scenario, ms, status="ok", reference=False, version="3.11.7"):
    s = ms / 1e3
    return {
        "engine": engine, "scenario": scenario, "status": status, "median_s": s,
        "q1_s": s * 0.9, "q3_s": s * 1.1, "python_version": version,
        "reference_row": reference, "detail": None if status == "ok" else "node 1: x",
    }  # fmt: skip


def _synthetic():
    ms = {
        "jinja2": [0.01, 0.05, 0.6, 6.0, 0.1],
        "jinja2-noescape": [0.01, 0.03, 0.2, 2.0, 0.08],
        "jinja2-template-per-render": [0.5, 2.0, 2.4, 8.0, 1.0],
        "tagflow": [0.2, 0.8, 6.0, 60.0, 1.0],
        "tagflow_cpp": [0.002, 0.01, 0.1, 1.0, 0.02],
    }
    rows = []
    for engine, values in ms.items():
        for scenario, v in zip(
            ["simple", "complex", "table100", "table1000", "escaping"], values, strict=False
        ):
            differs = (engine, scenario) == ("jinja2-noescape", "escaping")
            status = "output differs" if differs else "ok"
            rows.append(_row(engine, scenario, v, status, engine.startswith("jinja2-")))
    return rows


def test_html_bench_report_ratios_and_verdicts() -> None:
    rows = _synthetic()
    idx = report.index(rows)
    assert report.ratio(idx, "tagflow", "jinja2", "table100") == pytest.approx(10.0)
    v = {d["question"][:20]: d for d in report.verdicts(rows)}
    first = v["Jinja2 is 14.55x fas"]
    # ratio of arithmetic means over simple/complex/table100: (7.0/3) / (0.66/3)
    assert first["measured"].startswith(f"{7.0 / 0.66:.1f}x")
    assert first["answer"].endswith("factor is smaller")  # 10.6x < 14.55x / 1.25
    setup = v["Compiling the Jinja2"]
    assert setup["measured"].startswith(f"{2.4 / 0.6:.1f}x-{0.5 / 0.01:.1f}x")
    esc = v["Turning autoescape o"]
    assert esc["measured"].startswith("3.00x") and esc["answer"] == "holds"
    ours = v["(ours) tagflow_cpp i"]
    expected = math.exp(sum(math.log(x) for x in [0.2, 0.2, 1 / 6, 1 / 6, 0.2]) / 5)
    assert f"{expected:.2f}x" in ours["measured"] and ours["answer"] == "holds"


@pytest.mark.parametrize(
    ("ours", "expected"),
    [
        (0.8, "does not hold"),
        (14.0, "holds: about"),
        (5.0, "factor is smaller"),
        (30.0, "factor is larger"),
    ],
)
def test_html_bench_direction_verdict(ours: float, expected: str) -> None:
    assert expected in report._direction_verdict(ours, 14.55)


def test_html_bench_report_table_marks_differing_rows_unranked() -> None:
    table = report.results_table(_synthetic())
    line = next(x for x in table.splitlines() if x.startswith("| jinja2-noescape"))
    assert "not ranked" in line and "†" in line
    cpp = next(x for x in table.splitlines() if "tagflow_cpp" in x)
    gm = math.exp(sum(math.log(x) for x in [0.2, 0.2, 1 / 6, 1 / 6, 0.2]) / 5)
    assert cpp.endswith(f"| {gm:.2f}x |")
    assert "output differs" in report.equivalence_table(_synthetic())


def test_html_bench_engines_do_not_mutate_shared_data() -> None:
    from html_bench import scenarios
    from html_bench.engines import all_engines

    ENGINES = all_engines()

    for name in scenarios.SCENARIOS:
        shared = scenarios.data(name)
        for engine in ENGINES.values():
            if engine.available() is None:
                engine.renderers()[name](shared)
        assert shared == scenarios.get(name).build(), name


def test_html_bench_plugins_register_themselves_without_a_cycle() -> None:
    """pybuilder lives in tagflow-performance-analysis and registers itself by entry point;
    resolving a built-in engine imports no plugin package (workers stay clean)."""
    code = (
        "import sys\n"
        "from html_bench import engines\n"
        "assert 'pybuilder' not in engines.ENGINES\n"
        "engines.resolve('jinja2')\n"
        "assert not any(m.startswith('tagflow_analysis') for m in sys.modules), 'plugin loaded'\n"
        "e = engines.resolve('pybuilder')\n"
        "assert e.available() is None and sorted(e.renderers()) == sorted(engines.SCENARIOS)\n"
        "assert 'tagflow_analysis.plugin' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
