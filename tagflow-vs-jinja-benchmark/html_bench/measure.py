"""Timing with pyperf worker processes, after the equivalence check, on one interpreter.

For each engine, one *probe* process (``html_bench._probe``) on the interpreter under test checks
every scenario's output against the reference, and records output size and the tracemalloc peak
of one render. Then, for each scenario whose engine renders (output equal or not), one pyperf run
(``html_bench._bench``): a master process spawning worker processes, each with warm-ups and
``values`` timed values of ``loops`` renders. Loops are calibrated by pyperf in full mode; in quick
mode they come from the probe's estimate (so no calibration process is spent).

Other experiments call :func:`measure`; engines that are not in ``html_bench.engines.ENGINES`` are
passed as import specs ``"package.module:factory"`` (see ``html_bench.engines``).
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from html_bench import scenarios
from html_bench.engines import resolve


class ProgressLike(Protocol):
    def advance(self, steps: int = 1, note: str | None = None) -> None: ...
    def describe(self, note: str) -> None: ...


@dataclass(frozen=True)
class Settings:
    processes: int
    values: int
    warmups: int
    min_time: float  # seconds per value
    calibrate: bool  # pyperf calibrates loops (else: from the probe's estimate)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


QUICK = Settings(processes=1, values=5, warmups=1, min_time=0.03, calibrate=False)
FULL = Settings(processes=10, values=3, warmups=1, min_time=0.1, calibrate=True)

#: A measured row is ranked only if its status is this.
OK = "ok"


def settings(quick: bool) -> Settings:
    return QUICK if quick else FULL


def _tail(text: str | bytes | None, lines: int = 6) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " | ".join(text.strip().splitlines()[-lines:])


def probe(
    python: str, engine: str, scenario_names: Sequence[str], run: Callable, timeout: float = 300
) -> dict[str, Any]:
    """Run the probe for one engine on ``python``; never raises for an engine's failure."""
    cmd = [python, "-m", "html_bench._probe", "--engine", engine]
    cmd += ["--scenarios", ",".join(scenario_names)]
    try:
        proc = run(cmd, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except subprocess.TimeoutExpired:
        return {"engine": engine, "error": f"probe timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"engine": engine, "error": f"probe exited {proc.returncode}: {_tail(proc.stderr)}"}
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"engine": engine, "error": f"probe printed no JSON: {_tail(proc.stdout)}"}


def time_engine(
    python: str,
    engine: str,
    scenario_names: Sequence[str],
    conf: Settings,
    run: Callable,
    *,
    estimates_s: dict[str, float] | None = None,
    timeout: float = 1800,
) -> dict[str, dict[str, Any]]:
    """pyperf timing of one engine on several scenarios (one master process, one worker series
    per scenario). Returns ``{scenario: timing fields}``, or ``{scenario: {"error": ...}}``."""
    import pyperf

    with tempfile.TemporaryDirectory(prefix="html-bench-") as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [python, "-m", "html_bench._bench", "--engine", engine]
        cmd += ["--scenarios", ",".join(scenario_names)]
        cmd += ["--quiet", "-o", str(out), "--processes", str(conf.processes)]
        cmd += ["--values", str(conf.values), "--warmups", str(conf.warmups)]
        cmd += ["--min-time", str(conf.min_time)]
        if not conf.calibrate and estimates_s:
            inner = {
                s: max(1, min(1 << 20, math.ceil(conf.min_time / max(estimates_s[s], 1e-9))))
                for s in scenario_names
                if estimates_s.get(s)
            }
            cmd += ["--loops", "1", "--inner", ",".join(f"{s}={n}" for s, n in inner.items())]
        try:
            proc = run(
                cmd, timeout=timeout, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except subprocess.TimeoutExpired:
            return {s: {"error": f"pyperf timed out after {timeout:.0f} s"} for s in scenario_names}
        if proc.returncode != 0 or not out.exists():
            err = f"pyperf exited {proc.returncode}: {_tail(proc.stderr)}"
            return {s: {"error": err} for s in scenario_names}
        suite = pyperf.BenchmarkSuite.load(str(out))
    result: dict[str, dict[str, Any]] = {}
    for s in scenario_names:
        try:
            bench = suite.get_benchmark(f"{engine}/{s}")
        except KeyError:
            result[s] = {"error": "pyperf wrote no result for this scenario"}
            continue
        result[s] = _stats(bench, conf)
    return result


def _stats(bench: Any, conf: Settings) -> dict[str, Any]:
    values = bench.get_values()
    q = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    runs = [r for r in bench.get_runs() if r.values]
    loops = max((r.get_total_loops() for r in runs), default=None)
    return {
        "median_s": statistics.median(values),
        "q1_s": q[0],
        "q3_s": q[2],
        "mean_s": statistics.fmean(values),
        "stdev_s": statistics.stdev(values) if len(values) >= 2 else 0.0,
        "min_s": min(values),
        "max_s": max(values),
        "n_values": len(values),
        "loops": loops,  # renders per value (loops x inner loops)
        "processes": conf.processes,
    }


def measure(
    engine_names: Sequence[str],
    scenario_names: Sequence[str] | None = None,
    *,
    quick: bool,
    python: str = sys.executable,
    procs: Any = None,
    progress: ProgressLike | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Check, then time, every engine on every scenario with ``python``.

    ``engine_names``: names in ``html_bench.engines.ENGINES`` or import specs
    ``"pkg.module:factory"``. ``python``: an interpreter whose environment has ``html_bench``,
    ``pyperf`` and the engines installed (the workspace's, or one from ``html_bench.envs``).
    ``procs``: a ``lab.procs.ProcessGroup`` (one is created if None), so no worker outlives an
    error or Ctrl-C. ``progress``: advanced once per probe and once per timed benchmark.

    Returns one dict per (engine, scenario): ``status`` ("ok", "output differs", "failed",
    "unavailable"), ``detail``, ``ranked``, size, peak bytes, versions, and the timing fields
    (``median_s``, ``q1_s``, ``q3_s``, ``stdev_s``, ``min_s``, ``max_s``, ``n_values``, ``loops``)
    when timed. An engine that fails or is missing is reported; the run goes on.
    """
    names = list(scenario_names or scenarios.SCENARIOS)
    for s in names:
        scenarios.get(s)  # clear error for a bad name before any process starts
    for e in engine_names:
        if ":" not in e:
            resolve(e)
    if procs is None:
        from lab.procs import ProcessGroup

        with ProcessGroup() as own:
            return measure(
                engine_names,
                names,
                quick=quick,
                python=python,
                procs=own,
                progress=progress,
                log=log,
            )
    conf = settings(quick)
    say = log or (lambda _msg: None)
    rows: list[dict[str, Any]] = []
    for engine in engine_names:
        if progress:
            progress.describe(f"{engine}: checking output")
        info = probe(python, engine, names, procs.run)
        if progress:
            progress.advance()
        engine_rows = []
        for scenario in names:
            row: dict[str, Any] = {
                "python": python,
                "python_version": info.get("python"),
                "engine": info.get("engine", engine),
                "spec": engine,
                "label": info.get("label", engine),
                "reference_row": _is_reference(engine),
                "scenario": scenario,
                "versions": info.get("versions", {}),
            }
            if "error" in info:
                row.update(status="failed", detail=info["error"])
            else:
                row.update(info["scenarios"][scenario])
                row["engine"] = info["engine"]
            engine_rows.append(row)
        timed = [r for r in engine_rows if r["status"] in (OK, "output differs")]
        if timed:
            if progress:
                progress.describe(f"{engine}: timing {len(timed)} scenarios")
            timings = time_engine(
                python,
                engine,
                [r["scenario"] for r in timed],
                conf,
                procs.run,
                estimates_s={r["scenario"]: r.get("estimate_s") for r in timed},
            )
            for r in timed:
                t = timings[r["scenario"]]
                if "error" in t:
                    r.update(status="failed", detail=f"timing: {t['error']}")
                else:
                    r.update(t)
        if progress:
            progress.advance(len(names))
        for row in engine_rows:
            row["ranked"] = row["status"] == OK and not row["reference_row"]
            if row["status"] != OK:
                say(f"{row['engine']} / {row['scenario']}: {row['status']}: {row.get('detail')}")
        rows += engine_rows
    return rows


def _is_reference(engine: str) -> bool:
    try:
        return resolve(engine).reference if ":" not in engine else False
    except Exception:
        return False
