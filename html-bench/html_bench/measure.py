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
    rounds: int  # engines are timed in interleaved rounds (load drift hits all of them alike)
    processes: int  # pyperf worker processes per scenario in each round
    values: int
    warmups: int
    min_time: float  # seconds per value
    calibrate: bool  # pyperf calibrates loops in round 1 (else: from the probe's estimate)

    @property
    def total_processes(self) -> int:
        return self.rounds * self.processes

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


QUICK = Settings(rounds=2, processes=1, values=3, warmups=1, min_time=0.025, calibrate=False)
#: Full mode: 5 interleaved rounds of 1 pyperf worker process each (15 values per cell). Until
#: 2026-11 it was 2 processes per round (30 values, about 20 minutes for this benchmark); one
#: process per round halves the time and keeps the 5 rounds that spread load drift.
FULL = Settings(rounds=5, processes=1, values=3, warmups=1, min_time=0.1, calibrate=True)

#: A measured row is ranked only if its status is this.
OK = "ok"


def settings(quick: bool) -> Settings:
    return QUICK if quick else FULL


def progress_steps(n_engines: int, quick: bool) -> int:
    """How many times :func:`measure` advances its progress for ``n_engines`` engines."""
    return n_engines * (1 + settings(quick).rounds)


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
    inner: dict[str, int] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """One pyperf run of one engine on several scenarios (one master process, ``conf.processes``
    workers per scenario). ``inner``: renders per value for each scenario (then ``--loops 1``);
    None lets pyperf calibrate. Returns ``{scenario: pyperf.Benchmark | {"error": ...}}``."""
    import pyperf

    with tempfile.TemporaryDirectory(prefix="html-bench-") as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [python, "-m", "html_bench._bench", "--engine", engine]
        cmd += ["--scenarios", ",".join(scenario_names)]
        cmd += ["--quiet", "-o", str(out), "--processes", str(conf.processes)]
        cmd += ["--values", str(conf.values), "--warmups", str(conf.warmups)]
        cmd += ["--min-time", str(conf.min_time)]
        if inner:
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
    result: dict[str, Any] = {}
    for s in scenario_names:
        try:
            result[s] = suite.get_benchmark(f"{engine}/{s}")
        except KeyError:
            result[s] = {"error": "pyperf wrote no result for this scenario"}
    return result


def _inner_from_estimate(conf: Settings, estimate_s: float | None) -> int:
    if not estimate_s:
        return 1
    return max(1, min(1 << 20, math.ceil(conf.min_time / max(estimate_s, 1e-9))))


def _stats(benches: list[Any], conf: Settings) -> dict[str, Any]:
    """Statistics over the values of every round."""
    values = [v for b in benches for v in b.get_values()]
    q = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    runs = [r for b in benches for r in b.get_runs() if r.values]
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
        "processes": len(runs),
        "rounds": len(benches),
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
    conf: Settings | None = None,
) -> list[dict[str, Any]]:
    """Check, then time, every engine on every scenario with ``python``.

    ``conf``: timing settings; default :func:`settings` of ``quick``.

    ``engine_names``: names in ``html_bench.engines.ENGINES`` or import specs
    ``"pkg.module:factory"``. ``python``: an interpreter whose environment has ``html_bench``,
    ``pyperf`` and the engines installed (the workspace's, or one from ``html_bench.envs``).
    ``procs``: a ``lab.procs.ProcessGroup`` (one is created if None), so no worker outlives an
    error or Ctrl-C. ``progress``: advanced once per probe and once per engine and round
    (:func:`progress_steps`).

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
                conf=conf,
            )
    conf = conf or settings(quick)
    say = log or (lambda _msg: None)
    per_engine: list[tuple[str, list[dict[str, Any]]]] = []
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
        per_engine.append((engine, engine_rows))

    # Interleaved rounds: every engine gets a pyperf run in each round, so a change of machine
    # load during the run spreads over all engines instead of favouring some.
    collected: dict[tuple[str, str], list[Any]] = {}
    inner: dict[str, dict[str, int]] = {}
    for rnd in range(conf.rounds):
        for engine, engine_rows in per_engine:
            timed = [r for r in engine_rows if r["status"] in (OK, "output differs")]
            if timed:
                if progress:
                    progress.describe(f"{engine}: timing, round {rnd + 1}/{conf.rounds}")
                if engine not in inner and not conf.calibrate:
                    inner[engine] = {
                        r["scenario"]: _inner_from_estimate(conf, r.get("estimate_s"))
                        for r in timed
                    }
                got = time_engine(
                    python, engine, [r["scenario"] for r in timed], conf, procs.run,
                    inner=inner.get(engine),
                )  # fmt: skip
                for r in timed:
                    res = got[r["scenario"]]
                    if isinstance(res, dict):
                        r.update(status="failed", detail=f"timing: {res['error']}")
                    else:
                        collected.setdefault((engine, r["scenario"]), []).append(res)
                if engine not in inner:  # later rounds reuse round 1's calibrated loops
                    inner[engine] = {
                        s: max(r.get_total_loops() for r in b[0].get_runs() if r.values)
                        for (e, s), b in collected.items()
                        if e == engine
                    }
            if progress:
                progress.advance()

    rows: list[dict[str, Any]] = []
    for engine, engine_rows in per_engine:
        for row in engine_rows:
            benches = collected.get((engine, row["scenario"]))
            if benches and row["status"] in (OK, "output differs"):
                row.update(_stats(benches, conf))
            row["ranked"] = row["status"] == OK and not row["reference_row"]
            if row["status"] != OK:
                say(f"{row['engine']} / {row['scenario']}: {row['status']}: {row.get('detail')}")
            rows.append(row)
    return rows


def _is_reference(engine: str) -> bool:
    try:
        return resolve(engine).reference if ":" not in engine else False
    except Exception:
        return False
