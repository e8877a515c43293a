"""tagflow-performance-analysis: the `lab` plug-in (see lab/experiment.py).

1. profiles of tagflow 0.12.0 (cProfile + pyinstrument) on the shared scenarios, attributed to
   categories, with flame graphs;
2. the optimization ladder (rungs a-g), each checked for equivalence and timed with
   html_bench.measure (pyperf worker processes), against tagflow and Jinja2 with autoescape;
3. callgrind analysis of the C++ engine (tagflow_cpp) when it is installed, with A's Google
   Benchmark ceiling;
4. README sections: tables beside the original study's figures, generated verdicts, and the list
   of changes tagflow could adopt with their measured gains.

Quick mode (~1 min): ladder on complex/table100/escaping, profiles on complex/table100, callgrind
on table100, html_bench's quick settings (2 rounds x 1 process).
Full mode (~7 min, budget 8): all five scenarios for the ladder and the profiles (100 loops,
3 s), callgrind on four scenarios, the Google Benchmark ceiling; the ladder is timed with
``LADDER_FULL``: 3 interleaved rounds x 1 pyperf process x 3 values (>= 0.1 s each, loops
calibrated). Cut to fit the budget: the ladder used html_bench's former full settings, 5 rounds x
2 processes (the full run took 17 min, 15 of them in the ladder).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TITLE = "where tagflow's time goes, an optimization ladder, the C++ engine's costs"
ISSUE = 5

ALL_SCENARIOS = ["simple", "complex", "table100", "table1000", "escaping"]
QUICK_LADDER_SCENARIOS = ["complex", "table100", "escaping"]
QUICK_PROFILE_SCENARIOS = ["complex", "table100"]
QUICK_NATIVE_SCENARIOS = ["table100"]
FULL_NATIVE_SCENARIOS = ["simple", "complex", "table100", "escaping"]


def _ladder_full() -> Any:
    from html_bench.measure import Settings

    return Settings(rounds=3, processes=1, values=3, warmups=1, min_time=0.1, calibrate=True)


def _py() -> str:
    return sys.executable


def _json_run(ctx: Any, args: list[str], timeout: float) -> dict[str, Any]:
    proc = ctx.procs.run(
        [_py(), "-m", "tagflow_analysis", *args],
        timeout=timeout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(ctx.root),
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"tagflow_analysis {args[0]} failed: {' | '.join(err)}")
    return json.loads(proc.stdout)


def run(ctx: Any) -> dict[str, Any]:
    from html_bench.measure import measure, settings
    from tagflow_analysis import native, report
    from tagflow_analysis.engines import ladder_rungs
    from tagflow_analysis.report import ORIGINAL

    quick = ctx.quick
    conf = settings(quick) if quick else _ladder_full()
    ladder_scen = QUICK_LADDER_SCENARIOS if quick else ALL_SCENARIOS
    prof_scen = QUICK_PROFILE_SCENARIOS if quick else ALL_SCENARIOS
    rungs = ladder_rungs()
    engines = ["tagflow", "jinja2", *(r.engine for r in rungs)]
    native_why = native.missing_reason()
    nat_scen = (
        (QUICK_NATIVE_SCENARIOS if quick else FULL_NATIVE_SCENARIOS) if not native_why else []
    )
    ctx.progress.set_total(
        len(prof_scen) + 2 + (len(engines) + 2) * (1 + conf.rounds) + 3 * len(nat_scen) + 2
    )
    out: Path = ctx.out
    prof_dir = out / "profiles"

    phases: dict[str, float] = {}
    t0 = time.monotonic()

    # 1. profiles ---------------------------------------------------------------------------
    profiles: dict[str, Any] = {}
    loops, seconds = (10, 0.5) if quick else (100, 3.0)
    for sc in prof_scen:
        ctx.progress.describe(f"profiling tagflow on {sc}")
        args = ["profile", sc, "--out", str(prof_dir), "--loops", str(loops)]
        profiles[sc] = _json_run(ctx, [*args, "--seconds", str(seconds)], timeout=600)
        ctx.progress.advance()
    ctx.progress.describe("profiling tagflow with rungs a+b+c+d on table100")
    args = ["profile", "table100", "--engine", "ladder:a+b+c+d", "--out", str(prof_dir)]
    remaining = _json_run(ctx, [*args, "--loops", str(loops), "--seconds", str(seconds)], 600)
    ctx.progress.advance()
    for f in sorted(prof_dir.iterdir()):
        ctx.artifact(f)

    phases["profiles"] = time.monotonic() - t0
    t0 = time.monotonic()

    # 2. equivalence of every rung with tagflow (besides measure's check against the reference)
    ctx.progress.describe("checking every rung's output against tagflow")
    equivalence = _json_run(ctx, ["check"], timeout=600)
    ctx.progress.advance()

    phases["equivalence"] = time.monotonic() - t0
    t0 = time.monotonic()

    # 3. the ladder -------------------------------------------------------------------------
    rows = measure(
        engines,
        ladder_scen,
        quick=quick,
        python=_py(),
        procs=ctx.procs,
        progress=ctx.progress,
        log=ctx.log,
        conf=conf,
    )
    # the two references again at the end: their medians are averaged (geometric mean) with
    # the first ones, and the drift between the two says how steady the machine was
    ctx.progress.describe("tagflow and Jinja2 again (drift check)")
    again = measure(
        ["tagflow", "jinja2"],
        ladder_scen,
        quick=quick,
        python=_py(),
        procs=ctx.procs,
        progress=ctx.progress,
        log=ctx.log,
        conf=conf,
    )
    ladder = report.ladder_table(rows, rungs, ladder_scen, again)

    phases["ladder"] = time.monotonic() - t0
    t0 = time.monotonic()

    # 4. the C++ engine -----------------------------------------------------------------------
    cpp: dict[str, Any] = {"available": native_why, "scenarios": {}}
    if not native_why:
        for sc in nat_scen:
            for api in ("explicit", "compat", "pydispatch"):
                ctx.progress.describe(f"callgrind: tagflow_cpp {api} on {sc}")
                try:
                    cpp["scenarios"].setdefault(sc, {})[api] = native.analyse_scenario(
                        sc, api, out / "callgrind", run=ctx.procs.run
                    )
                except RuntimeError as exc:
                    cpp["scenarios"].setdefault(sc, {})[api] = {"error": str(exc)}
                ctx.progress.advance()
    ctx.progress.describe("Google Benchmark ceiling")
    cpp["ceiling"] = native.google_benchmark_ceiling(ctx.procs.run, quick=quick)
    for f in sorted((out / "callgrind").glob("callgrind.*")):
        ctx.artifact(f)
    cpp["perf"] = native.perf_stat_available(ctx.procs.run)
    ctx.progress.advance()

    phases["cpp"] = time.monotonic() - t0
    results: dict[str, Any] = {
        "phase_seconds": phases,
        "mode": ctx.mode,
        "settings": conf.as_dict(),
        "ladder_scenarios": ladder_scen,
        "profile_scenarios": prof_scen,
        "profiles": profiles,
        "profile_after_abcd": remaining,
        "equivalence_vs_tagflow": equivalence,
        "measure_rows": [report.trim_row(r) for r in rows],
        "measure_rows_again": [report.trim_row(r) for r in again],
        "ladder": ladder,
        "cpp": cpp,
        "original": ORIGINAL,
    }

    # 5. figures and CSV ----------------------------------------------------------------------
    ctx.progress.describe("plots")
    for path in report.plots(results, out):
        ctx.artifact(path)
    csv_path = out / "ladder.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "rung",
                "engine",
                "scenario",
                "status",
                "median_ms",
                "q1_ms",
                "q3_ms",
                "speedup_vs_tagflow",
                "ratio_to_jinja2",
            ]
        )
        for r in ladder["rows"]:
            for sc, cell in r["scenarios"].items():
                w.writerow(
                    [
                        r["key"],
                        r["engine"],
                        sc,
                        cell["status"],
                        _ms(cell.get("median_s")),
                        _ms(cell.get("q1_s")),
                        _ms(cell.get("q3_s")),
                        cell.get("speedup"),
                        cell.get("vs_jinja"),
                    ]
                )
    ctx.artifact(csv_path)
    ctx.progress.advance()
    results["verdicts"] = report.decide(results)
    return results


def _ms(v: float | None) -> str:
    return "" if v is None else f"{v * 1e3:.6f}"


def errors(results: dict[str, Any]) -> list[str]:
    """Harness errors: a ladder cell (rung, tagflow or Jinja2) that failed, is missing, did not
    match the reference or was not timed; a rung whose engine is unavailable; the C++ engine,
    a callgrind analysis or the Google Benchmark ceiling missing or failed. No hardware counters
    (perf) on a virtual CPU is a fact of the machine, not an error."""
    out: list[str] = []
    scen = results.get("ladder_scenarios") or []
    for name in ("measure_rows", "measure_rows_again"):
        rows = results.get(name) or []
        if not rows:
            out.append(f"{name}: nothing measured")
        have = {(r.get("spec", r.get("engine")), r.get("scenario")) for r in rows}
        for engine in sorted({e for e, _ in have}):
            missing = [s for s in scen if (engine, s) not in have]
            if missing:
                out.append(f"{engine}: no {name} row for {', '.join(missing)}")
        for r in rows:
            where = f"{r.get('spec', r.get('engine'))} / {r.get('scenario')}"
            if r.get("status") != "ok":
                out.append(f"{where}: {r.get('status')}: {r.get('detail')}")
            elif r.get("median_s") is None:
                out.append(f"{where}: not timed")
    for rung, res in (results.get("equivalence_vs_tagflow") or {}).items():
        if isinstance(res, dict) and res.get("available"):
            out.append(f"rung {rung} unavailable: {res['available']}")
    cpp = results.get("cpp") or {}
    if cpp.get("available"):
        out.append(f"tagflow_cpp unavailable: {cpp['available']}")
    else:
        if not cpp.get("scenarios"):
            out.append("callgrind: no scenario analysed")
        for sc, apis in (cpp.get("scenarios") or {}).items():
            for api, res in apis.items():
                if "error" in res:
                    out.append(f"callgrind {api} on {sc}: {res['error']}")
        ceiling = cpp.get("ceiling") or {"available": "not run"}
        if ceiling.get("available"):
            out.append(f"Google Benchmark ceiling: {ceiling['available']}")
    return out


def measurement_count(results: dict[str, Any]) -> int:
    """Timed ladder cells (both passes), callgrind analyses and ceiling pages."""
    n = sum(
        1
        for name in ("measure_rows", "measure_rows_again")
        for r in results.get(name) or []
        if r.get("status") == "ok" and r.get("median_s") is not None
    )
    cpp = results.get("cpp") or {}
    n += sum(
        1
        for apis in (cpp.get("scenarios") or {}).values()
        for r in apis.values()
        if "error" not in r
    )
    n += len((cpp.get("ceiling") or {}).get("pages") or {})
    return n


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    from tagflow_analysis import report

    return report.summary_rows(results)


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    from tagflow_analysis import report

    return report.readme_sections(results)
