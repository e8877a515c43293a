"""tagflow-reimplementation: the `lab` plug-in (see lab/experiment.py).

One run measures, with html_bench's pyperf harness (output checked against the reference first):
tagflow_cpp's explicit Document API and its tagflow-compatible API against Jinja2 (Environment,
cached templates, autoescape on) and tagflow 0.12.0 on the five shared scenarios; then the
Google Benchmark ceiling (the same pages built from C++ directly, no Python).

Quick mode (~1 min): html_bench's quick settings (2 rounds x 1 pyperf process, 0.025 s values),
ceiling 3 repetitions, binding prototype 3 rounds. Full mode (~5 min, budget 8): every engine on
every scenario on every interpreter with html_bench's full settings, now 5 interleaved rounds x
1 pyperf process x 3 values (>= 0.1 s each, loops calibrated; was 2 processes per round), the
ceiling with 10 repetitions, the binding prototype with 9 rounds.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from lab.stats import geometric_mean
from lab.tables import markdown
from lab.verdicts import Verdict, verdict

TITLE = "tagflow_cpp: tagflow's syntax on a C++ engine, faster than Jinja2 with autoescape"
ISSUE = 3

ENGINES = ["tagflow_cpp", "tagflow_cpp.compat", "fstring", "jinja2", "tagflow"]
LABELS = {
    "tagflow_cpp": "tagflow_cpp (explicit API)",
    "tagflow_cpp.compat": "tagflow_cpp.compat",
    "fstring": "hand-written f-strings + html.escape",
    "jinja2": "Jinja2 (cached, autoescape)",
    "tagflow": "tagflow 0.12.0",
}
SCENARIOS = ["simple", "complex", "table100", "table1000", "escaping"]

# The issues' goals (3, then 13's speed floor): (description, engine measured, engine compared,
# minimum geomean speedup, column label). "Within 1.1x of the f-string renderer" is a speedup
# of at least 1/1.1 over it.
GOALS = [
    ("explicit API vs Jinja2, geometric mean", "tagflow_cpp", "jinja2", 4.0, "vs Jinja2"),
    (
        "explicit API within 1.1x of hand-written f-strings, geometric mean",
        "tagflow_cpp",
        "fstring",
        1 / 1.1,
        "vs f-strings",
    ),
    (
        "compat API vs Jinja2, geometric mean",
        "tagflow_cpp.compat",
        "jinja2",
        2.0,
        "compat vs Jinja2",
    ),
    (
        "explicit API vs tagflow 0.12.0, geometric mean",
        "tagflow_cpp",
        "tagflow",
        40.0,
        "vs tagflow",
    ),
    (
        "compat API vs tagflow 0.12.0, geometric mean",
        "tagflow_cpp.compat",
        "tagflow",
        15.0,
        "compat vs tagflow",
    ),
]


def _times(x: float) -> str:
    """A goal as "4x", "0.909x", "40x"."""
    return f"{x:.3g}x"


def _measured(g: dict[str, Any]) -> str:
    """A goal's measured geometric mean (two decimals near 1x, where one would hide the margin)."""
    if not g["complete"]:
        return "incomplete"
    return f"{g['geomean']:.2f}x" if g["minimum"] < 2 else f"{g['geomean']:.1f}x"


def _elements() -> dict[str, int]:
    from html_bench import scenarios

    return {name: scenarios.get(name).elements for name in SCENARIOS}


def run_ceiling(ctx: Any) -> dict[str, Any]:
    """Runs the Google Benchmark binary of the release build; reports why if it is absent."""
    from lab.paths import built

    try:
        binary = built("tagflow-reimplementation", "bench_tagflow_pages")
    except FileNotFoundError as exc:
        return {"available": False, "reason": str(exc)}
    reps = 3 if ctx.quick else 10
    args = [
        str(binary),
        "--benchmark_format=json",
        f"--benchmark_min_time={0.05 if ctx.quick else 0.2}",
        f"--benchmark_repetitions={reps}",
        "--benchmark_report_aggregates_only=true",
    ]
    proc = ctx.procs.run(args, timeout=600, stdout=-1, stderr=-1, text=True)
    if proc.returncode != 0:
        return {"available": False, "reason": f"exit {proc.returncode}: {proc.stderr[-400:]}"}
    data = json.loads(proc.stdout)
    pages: dict[str, dict[str, float]] = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].split("/")[0]  # "table100/real_time" -> "table100"
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
        seconds = b["real_time"] * scale
        elements = b.get("elements", 0.0)
        pages[name] = {
            "median_s": seconds,
            "bytes_per_s": b.get("bytes_per_second", 0.0),
            "elements_per_s": b.get("items_per_second", 0.0),
            "elements": elements,
            "ns_per_element": seconds / elements * 1e9 if elements else float("nan"),
        }
    return {"available": True, "repetitions": reps, "pages": pages, "context": data["context"]}


NANOBIND_VERSION = "3.1.0"


def run_binding_choice(ctx: Any) -> dict[str, Any]:
    """Builds the nanobind prototype (nanobind from PyPI into a cached venv) and times the two hot
    calls against the C API binding, in this interpreter. Reports why if it cannot."""
    import sys

    from lab.paths import cache_dir

    here = Path(__file__).resolve().parent / "prototype" / "binding_choice"
    base = cache_dir() / "tagflow-cpp-binding-choice"
    venv = base / f"nanobind-{NANOBIND_VERSION}"
    build = base / f"build-py{sys.version_info[0]}{sys.version_info[1]}"
    from lab.paths import uv as find_uv

    try:
        uv = find_uv()
    except FileNotFoundError as exc:
        return {"available": False, "reason": str(exc)}
    try:
        if not (venv / "bin" / "python").exists():
            ctx.procs.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
            ctx.procs.run(
                [
                    uv,
                    "pip",
                    "install",
                    "-q",
                    "--python",
                    str(venv / "bin" / "python"),
                    f"nanobind=={NANOBIND_VERSION}",
                ],
                check=True,
            )
        cmake_dir = ctx.procs.run(
            [str(venv / "bin" / "python"), "-m", "nanobind", "--cmake_dir"],
            check=True,
            stdout=-1,
            text=True,
        ).stdout.strip()
        ctx.procs.run(
            [
                "cmake",
                "-S",
                str(here),
                "-B",
                str(build),
                "-G",
                "Ninja",
                f"-DPython_EXECUTABLE={sys.executable}",
                f"-Dnanobind_DIR={cmake_dir}",
            ],
            check=True,
            stdout=-1,
            stderr=-1,
        )
        ctx.procs.run(["cmake", "--build", str(build), "-j2"], check=True, stdout=-1, stderr=-1)
        env = dict(os.environ, PYTHONPATH=str(build))
        rounds = "3" if ctx.quick else "9"
        proc = ctx.procs.run(
            [sys.executable, str(here / "measure.py"), "--json", "--rounds", rounds],
            check=True,
            stdout=-1,
            stderr=-1,
            text=True,
            env=env,
            timeout=600,
        )
    except Exception as exc:  # report, do not fail the experiment over the prototype
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
    data = json.loads(proc.stdout)
    data.update(available=True, nanobind=NANOBIND_VERSION, python=sys.version.split()[0])
    return data


def analyse(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per engine and scenario, speedups, ns per element and the goals' verdicts."""
    elements = _elements()
    median: dict[str, dict[str, float]] = {e: {} for e in ENGINES}
    spread: dict[str, dict[str, list[float]]] = {e: {} for e in ENGINES}
    status: dict[str, dict[str, str]] = {e: {} for e in ENGINES}
    for r in rows:
        e, s = r["spec"], r["scenario"]
        status.setdefault(e, {})[s] = r["status"]
        if r["status"] == "ok" and "median_s" in r:
            median[e][s] = r["median_s"]
            spread[e][s] = [r["q1_s"], r["q3_s"]]
    speedups: dict[str, dict[str, float]] = {}
    for _, mine, other, _, _ in GOALS:
        key = f"{mine}/{other}"
        speedups[key] = {
            s: median[other][s] / median[mine][s]
            for s in SCENARIOS
            if s in median[mine] and s in median[other]
        }
    goals = []
    for desc, mine, other, minimum, _ in GOALS:
        per = speedups[f"{mine}/{other}"]
        complete = len(per) == len(SCENARIOS)
        g = geometric_mean(per.values()) if complete else float("nan")
        goals.append(
            {
                "goal": desc,
                "minimum": minimum,
                "geomean": g,
                "met": complete and g >= minimum,
                "complete": complete,
            }
        )
    per_jinja = speedups["tagflow_cpp/jinja2"]
    every = len(per_jinja) == len(SCENARIOS) and all(v > 1 for v in per_jinja.values())
    goals.insert(
        0,
        {
            "goal": "explicit API faster than Jinja2 on every scenario",
            "minimum": 1.0,
            "geomean": min(per_jinja.values()) if per_jinja else float("nan"),
            "met": every,
            "complete": len(per_jinja) == len(SCENARIOS),
        },
    )
    ns_per_element = {e: {s: median[e][s] / elements[s] * 1e9 for s in median[e]} for e in ENGINES}
    return {
        "median_s": median,
        "iqr_s": spread,
        "status": status,
        "speedups": speedups,
        "goals": goals,
        "ns_per_element": ns_per_element,
        "elements": elements,
    }


def measure_all(ctx: Any, python: str) -> list[dict[str, Any]]:
    """Every engine on every scenario with ``python`` (html_bench's pyperf harness).

    One measure() call per scenario, all engines back to back (alternating their order): on a
    shared machine the load drifts, and timing engine after engine for every scenario would let
    that drift bias the ratios. Each call checks every engine's output first.
    """
    from html_bench.measure import measure

    rows: list[dict[str, Any]] = []
    for i, scenario in enumerate(SCENARIOS):
        order = ENGINES if i % 2 == 0 else ENGINES[::-1]
        rows += measure(
            order,
            [scenario],
            quick=ctx.quick,
            python=python,
            procs=ctx.procs,
            progress=ctx.progress,
            log=ctx.log,
        )
    return rows


def run(ctx: Any) -> dict[str, Any]:
    import sys

    from html_bench.envs import bench_python

    load_at_start = os.getloadavg()[0]
    # Other interpreters (`lab pythons`, --python): a benchmark venv per interpreter, built by
    # html_bench.envs with tagflow_cpp compiled for it.
    others: list[dict[str, Any]] = []
    for requested in ctx.pythons:
        if Path(requested).resolve() == Path(sys.executable).resolve():
            continue
        ctx.progress.describe(f"preparing a benchmark environment for {requested}")
        env = bench_python(requested, log=ctx.log)
        if env.python is None or Path(env.python).resolve() == Path(sys.executable).resolve():
            if env.python is None:
                others.append({"requested": requested, "reason": env.reason})
            continue
        others.append({"requested": requested, "python": env.python, "notes": env.notes})
    per_python = len(SCENARIOS) * len(ENGINES) * 2
    serving_steps = SERVING_ROUNDS["quick" if ctx.quick else "full"] * len(SERVING_ENGINES)
    ctx.progress.set_total(
        per_python * (1 + sum("python" in o for o in others)) + 2 + serving_steps + 2
    )
    rows = measure_all(ctx, sys.executable)
    for other in others:
        if "python" in other:
            other["rows"] = measure_all(ctx, other["python"])
            other["python_version"] = other["rows"][0].get("python_version")
            other["analysis"] = analyse(other["rows"])
    ctx.progress.describe("C++ ceiling (Google Benchmark)")
    ceiling = run_ceiling(ctx)
    ctx.progress.advance()
    ctx.progress.describe("binding choice: nanobind prototype vs C API")
    binding = run_binding_choice(ctx)
    ctx.progress.advance()
    ctx.progress.describe("serving: one page per engine behind uvicorn")
    serving = run_serving(ctx)
    scaling = run_scaling(ctx)
    import tagflow_cpp

    results = {
        "python_version": sys.version.split()[0],
        "rows": rows,
        "analysis": analyse(rows),
        "other_interpreters": others,
        "ceiling": ceiling,
        "binding_choice": binding,
        "serving": serving,
        "scaling": scaling,
        "escape_kernel": tagflow_cpp.escape_kernel(),
        "load_average_at_start": load_at_start,
        "cpus": os.cpu_count(),
    }
    results["verdicts"] = goal_verdicts(results["python_version"], results["analysis"])
    if serving.get("available"):
        results["verdicts"] += serving_verdicts(serving)
    if scaling.get("available"):
        results["verdicts"] += scaling_verdicts(scaling)
    for other in others:
        if "analysis" in other:
            results["verdicts"] += goal_verdicts(other["python_version"], other["analysis"])
    _write_csv(ctx, results)
    _plot(ctx, results)
    return results


#: The serving benchmark: one page per engine behind the same uvicorn server.
SERVING_ENGINES = ["tagflow_cpp", "jinja2", "tagflow"]
SERVING_SCENARIO = "table1000"
#: Rounds of the serving benchmark (each: every engine for 2 s after 0.5 s of warm-up).
SERVING_ROUNDS = {"quick": 2, "full": 10}
#: A cell whose client used this much of a core was measuring echoload, not the server.
CLIENT_SATURATED = 0.85


def _fetch(port: int, path: str) -> bytes:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: status {resp.status}: {body[:200]!r}")
        return body
    finally:
        conn.close()


def run_serving(ctx: Any) -> dict[str, Any]:
    """Requests/s and server CPU per request for one page per engine behind uvicorn.

    The server (uvicorn with the app in bench/serving_app.py) gets the first core, echoload
    (HTTP keep-alive, every response compared byte for byte with the page fetched before) the
    second when there are two; each round runs every engine once, the order rotating, so load
    drift hits all alike. The pages are checked to be the same document (html5lib-normalised)
    before anything is timed. Cells where echoload used >= 0.85 of a core are marked
    client-bound and left out of the ratios.
    """
    import socket
    import subprocess
    import sys
    import time

    from html_bench.equivalence import first_difference, normalize

    from lab.paths import built

    try:
        echoload = built("uvloop-updated-benchmark", "echoload")
    except FileNotFoundError as exc:
        return {"available": False, "reason": str(exc)}
    rounds, seconds, connections = SERVING_ROUNDS["quick" if ctx.quick else "full"], 2.0, 8
    cores = sorted(os.sched_getaffinity(0))
    pin_server = ["taskset", "-c", str(cores[0])] if len(cores) >= 2 else []
    pin_client = ["taskset", "-c", ",".join(map(str, cores[1:]))] if len(cores) >= 2 else []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    env = dict(os.environ, SERVING_SCENARIO=SERVING_SCENARIO,
               SERVING_ENGINES=",".join(SERVING_ENGINES))  # fmt: skip
    server = ctx.procs.popen(
        [*pin_server, sys.executable, "-m", "uvicorn", "--fd", str(sock.fileno()),
         "--app-dir", str(Path(__file__).resolve().parent / "bench"), "--log-level", "warning",
         "--no-access-log", "serving_app:app"],
        pass_fds=(sock.fileno(),), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    sock.close()
    res: dict[str, Any] = {
        "available": True, "scenario": SERVING_SCENARIO, "rounds": rounds, "seconds": seconds,
        "connections": connections, "pinned": bool(pin_server),
        "cells": {e: [] for e in SERVING_ENGINES},
    }  # fmt: skip
    work = ctx.out / "serving"
    work.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + 60
        pages: dict[str, Path] = {}
        while True:
            try:
                reference = _fetch(port, f"/{SERVING_ENGINES[0]}")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    out = server.stdout.read().decode(errors="replace") if server.stdout else ""
                    return {"available": False, "reason": f"uvicorn did not start: {out[-500:]}"}
                time.sleep(0.2)
        for engine in SERVING_ENGINES:
            body = _fetch(port, f"/{engine}")
            diff = first_difference(
                normalize(reference.decode()), normalize(body.decode()), normalized=True
            )
            if diff is not None:
                return {"available": False, "reason": f"{engine}'s page differs: {diff}"}
            pages[engine] = work / f"{engine}.html"
            pages[engine].write_bytes(body)
        res["page_bytes"] = {e: p.stat().st_size for e, p in pages.items()}
        for r in range(rounds):
            order = (
                SERVING_ENGINES[r % len(SERVING_ENGINES) :]
                + SERVING_ENGINES[: r % len(SERVING_ENGINES)]
            )
            for engine in order:
                ctx.progress.describe(f"serving: {engine}, round {r + 1}/{rounds}")
                proc = ctx.procs.run(
                    [*pin_client, str(echoload), "--port", str(port), "--mode", "http",
                     "--path", f"/{engine}", "--body-file", str(pages[engine]),
                     "-c", str(connections), "--warmup", "0.5", "--duration", str(seconds),
                     "--io", "epoll", "--server-pid", str(server.pid), "--json"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                )  # fmt: skip
                ctx.progress.advance()
                if proc.returncode != 0:
                    res["cells"][engine].append({"error": proc.stderr.strip()[-300:]})
                    continue
                res["cells"][engine].append(_serving_cell(json.loads(proc.stdout)))
    finally:
        ctx.procs.stop(server, grace=10)
    return res


def _serving_cell(out: dict[str, Any]) -> dict[str, Any]:
    """The figures of one echoload --json run that the report uses."""
    requests = out.get("requests") or 0
    server = out.get("server") or {}
    cpu = server.get("cpu_s")
    threads = out.get("threads") or []
    window = out.get("seconds") or 0
    client_cores = max(((t.get("cpu_s") or 0) / window for t in threads if window), default=0.0)
    return {
        "req_per_s": out.get("req_per_s") or (requests / window if window else 0),
        "server_cpu_us_per_req": (cpu * 1e6 / requests) if cpu and requests else None,
        "client_cores": client_cores,
        "client_bound": client_cores >= CLIENT_SATURATED,
    }


def goal_verdicts(python_version: str, analysis: dict[str, Any]) -> list[Verdict]:
    """The issue's goals as the run decided them (``analyse`` compares with the minimums)."""
    out = []
    for g in analysis["goals"]:
        measured = _measured(g)
        every = g["goal"].endswith("every scenario")
        out.append(
            verdict(
                f"{g['goal']} (Python {python_version})",
                "met" if g["met"] else "not met",
                f"slowest scenario {measured}" if every else f"geometric mean {measured}",
                f"met when {'every scenario' if every else 'the geometric mean'} reaches "
                + _times(g["minimum"]),
                minimum=g["minimum"],
            )
        )
    return out


def _write_csv(ctx: Any, results: dict[str, Any]) -> None:
    path = ctx.out / "timings.csv"
    runs = [(results["python_version"], results["rows"], results["analysis"])]
    runs += [
        (o.get("python_version"), o["rows"], o["analysis"])
        for o in results["other_interpreters"]
        if "rows" in o
    ]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["python", "engine", "scenario", "status", "median_s", "q1_s", "q3_s", "ns_per_element"]
        )
        for version, rows, a in runs:
            for r in rows:
                e, s = r["spec"], r["scenario"]
                w.writerow(
                    [
                        version,
                        e,
                        s,
                        r["status"],
                        r.get("median_s", ""),
                        r.get("q1_s", ""),
                        r.get("q3_s", ""),
                        a["ns_per_element"].get(e, {}).get(s, ""),
                    ]
                )
    ctx.artifact(path)


def _plot(ctx: Any, results: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    from lab.plotting import save

    a = results["analysis"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(ENGINES)
    for i, e in enumerate(ENGINES):
        have = [(j, s) for j, s in enumerate(SCENARIOS) if s in a["median_s"][e]]
        xs = [j + i * width for j, _ in have]
        ys = [a["median_s"][e][s] * 1e6 for _, s in have]
        # error bars: the interquartile range of the timed values
        lo = [y - a["iqr_s"][e][s][0] * 1e6 for y, (_, s) in zip(ys, have, strict=True)]
        hi = [a["iqr_s"][e][s][1] * 1e6 - y for y, (_, s) in zip(ys, have, strict=True)]
        ax.bar(xs, ys, width, label=LABELS[e], yerr=[lo, hi], capsize=2, error_kw={"lw": 0.8})
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(SCENARIOS))], SCENARIOS)
    ax.set_yscale("log")
    ax.set_ylabel("median render time (µs, log scale)")
    ax.set_title(
        f"One page render on Python {results['python_version']}, lower is better "
        "(bars: median, whiskers: IQR)"
    )
    ax.legend(fontsize=8)
    ctx.artifact(save(fig, ctx.out / "render_times.png"))


def _fmt_us(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    us = seconds * 1e6
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def errors(results: dict[str, Any]) -> list[str]:
    """Harness errors: an interpreter without a benchmark environment, an (engine, scenario) cell
    missing, failed, not matching the reference or not timed (every engine here must match),
    a goal that could not be computed, the Google Benchmark ceiling or the nanobind prototype
    not built or failed."""
    out: list[str] = []
    runs = [(results.get("python_version"), results.get("rows") or [])]
    for other in results.get("other_interpreters") or []:
        if "rows" not in other:
            out.append(f"interpreter {other.get('requested')}: {other.get('reason') or 'not run'}")
            continue
        runs.append((other.get("python_version") or other.get("requested"), other["rows"]))
    for version, rows in runs:
        have = {(r.get("spec"), r.get("scenario")): r for r in rows}
        for e in ENGINES:
            for s in SCENARIOS:
                r = have.get((e, s))
                where = f"{e} / {s} on {version}"
                if r is None:
                    out.append(f"{where}: missing")
                elif r.get("status") != "ok":
                    out.append(f"{where}: {r.get('status')}: {r.get('detail')}")
                elif r.get("median_s") is None:
                    out.append(f"{where}: not timed")
    for g in (results.get("analysis") or {}).get("goals", []):
        if not g.get("complete"):
            out.append(f"goal not computed (cells missing): {g.get('goal')}")
    # "serving" and "scaling" joined the run after the published one of 2026-11-26: judged
    # where present (run() always records them, available or with the reason they are not).
    for part in ("ceiling", "binding_choice", "serving"):
        res = results.get(part) or {}
        if (part in results or part != "serving") and not res.get("available"):
            out.append(f"{part}: {res.get('reason') or 'not run'}")
    out += serving_errors(results.get("serving") or {})
    scaling = results.get("scaling") or {}
    if "scaling" in results and not scaling.get("available") and scaling.get("required", True):
        out.append(f"scaling: {scaling.get('reason') or 'not run'}")
    return out


def serving_errors(serving: dict[str, Any]) -> list[str]:
    """A failed echoload run (a wrong byte, a stall, a refused connection) in any cell, and an
    engine with fewer than 2 rounds where the client was not the bottleneck."""
    if not serving.get("available"):
        return []
    out = []
    for engine, cells in serving.get("cells", {}).items():
        out += [f"serving {engine}: {c['error']}" for c in cells if "error" in c]
        valid = [c for c in cells if "error" not in c and not c.get("client_bound")]
        if len(valid) < 2:
            out.append(f"serving {engine}: {len(valid)} valid rounds of {len(cells)} (need 2)")
    return out


def measurement_count(results: dict[str, Any]) -> int:
    """Timed (engine, scenario) cells on every interpreter, ceiling pages, the binding timing,
    serving rounds and free-threading cells."""
    rows = list(results.get("rows") or [])
    for other in results.get("other_interpreters") or []:
        rows += other.get("rows") or []
    n = sum(1 for r in rows if r.get("status") == "ok" and r.get("median_s") is not None)
    n += len((results.get("ceiling") or {}).get("pages") or {})
    n += 1 if (results.get("binding_choice") or {}).get("available") else 0
    for cells in ((results.get("serving") or {}).get("cells") or {}).values():
        n += sum(1 for c in cells if "error" not in c)
    for build in ((results.get("scaling") or {}).get("builds") or {}).values():
        n += len(build.get("cells") or [])
    return n


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for g in results["analysis"]["goals"]:
        verdict = "met" if g["met"] else "NOT met"
        out.append((g["goal"], f"{_measured(g)} (goal {_times(g['minimum'])}): {verdict}"))
    return out


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    a = results["analysis"]
    m = a["median_s"]
    lines = [
        "Median render time of one page in µs (pyperf worker processes; interquartile range in "
        "`results/timings.csv`), speedups as ratios of medians measured in the same run, and the "
        "cost per element of the explicit API.",
        "",
    ]
    header = [
        "scenario", "elements", "tagflow_cpp", "compat", "f-strings", "Jinja2 (autoescape)",
        "tagflow 0.12.0", *[label for *_, label in GOALS], "ns/element",
    ]  # fmt: skip
    body = []
    sp = a["speedups"]
    for s in SCENARIOS:
        cells = [_fmt_us(m[e].get(s)) for e in ENGINES]

        def ratio(key: str, scenario: str = s) -> str:
            v = sp.get(key, {}).get(scenario)  # (a run from before a goal existed has none)
            if not v:
                return "n/a"
            return f"{v:.2f}x" if v < 2 else f"{v:.1f}x"

        nspe = a["ns_per_element"]["tagflow_cpp"].get(s)
        body.append(
            [
                s,
                a["elements"][s],
                *cells,
                *[ratio(f"{mine}/{other}") for _, mine, other, _, _ in GOALS],
                f"{nspe:.0f}" if nspe else "n/a",
            ]
        )
    lines.append(markdown(header, body, "l" + "r" * (len(header) - 1)))
    for e in ENGINES:
        bad = {s: st for s, st in a["status"].get(e, {}).items() if st != "ok"}
        if bad:
            lines.append("")
            lines.append(f"**{LABELS[e]}** did not complete: {bad} (see results/published.json).")
    goals = []
    for g in a["goals"]:
        measured = _measured(g)
        if g["goal"].endswith("every scenario"):
            measured = f"slowest scenario {measured}"
        verdict = "met" if g["met"] else "**not met**"
        goals.append([g["goal"], _times(g["minimum"]), measured, verdict])
    lines += ["", markdown(["goal", "required", "measured", "verdict"], goals, "lrrl")]
    lines += ["", "![render times](results/render_times.png)"]

    c = results["ceiling"]
    if c.get("available"):
        ceil = [
            "The same five pages built from C++ directly (`bench_tagflow_pages`, Google "
            f"Benchmark, median of {c['repetitions']} repetitions): the ceiling a Python binding "
            "can approach.",
            "",
        ]
        pages = []
        for s in SCENARIOS:
            p = c["pages"].get(s)
            if not p:
                continue
            py = a["ns_per_element"]["tagflow_cpp"].get(s)
            pages.append(
                [
                    s,
                    f"{p['median_s'] * 1e6:,.2f}",
                    f"{p['bytes_per_s'] / 1e6:,.0f}",
                    f"{p['elements_per_s'] / 1e6:,.1f}",
                    f"{p['ns_per_element']:.1f}",
                    f"{py:.0f}" if py else "n/a",
                    f"{py / p['ns_per_element']:.0f}x" if py else "n/a",
                ]
            )
        header = [
            "scenario", "C++ µs/page", "MB/s", "M elements/s", "ns/element",
            "Python explicit API ns/element", "Python / C++",
        ]  # fmt: skip
        ceil.append(markdown(header, pages, "lrrrrrr"))
    else:
        ceil = [f"C++ ceiling not measured: {c.get('reason')}."]
    ceil += ["", f"Escaping kernel selected at run time on this CPU: `{results['escape_kernel']}`."]
    load = results.get("load_average_at_start")
    if load is not None:
        lines += [
            "",
            f"Load average at the start of the run: {load:.1f} on {results.get('cpus')} CPUs"
            + (" (a busy machine: compare ratios, not absolute times)." if load > 1 else "."),
        ]
    lines += ["", *_other_interpreters_section(results)]
    sections = {
        "performance": "\n".join(lines),
        "ceiling": "\n".join(ceil),
        "binding": _binding_section(results.get("binding_choice", {})),
    }
    if (results.get("serving") or {}).get("available"):
        sections["serving"] = serving_section(results["serving"])
    if "scaling" in results:
        sections["scaling"] = scaling_section(results["scaling"])
    return sections


def _serving_ratio(serving: dict[str, Any], engine: str, other: str) -> Any:
    """engine/other requests/s over the rounds where both cells are valid (paired: the same
    round), with a bootstrap 95 % interval; None with fewer than 2 such rounds."""
    from lab.stats import ratio_interval

    pairs = [
        (a["req_per_s"], b["req_per_s"])
        for a, b in zip(serving["cells"][engine], serving["cells"][other], strict=False)
        if "error" not in a and "error" not in b
        and not a.get("client_bound") and not b.get("client_bound")
    ]  # fmt: skip
    if len(pairs) < 2:
        return None
    return ratio_interval([a for a, _ in pairs], [b for _, b in pairs])


def serving_verdicts(serving: dict[str, Any]) -> list[Verdict]:
    from lab.stats import direction

    out = []
    for other in SERVING_ENGINES[1:]:
        iv = _serving_ratio(serving, "tagflow_cpp", other)
        if iv is None:
            continue
        out.append(
            verdict(
                f"requests/s serving {serving['scenario']} behind uvicorn: tagflow_cpp vs {other}",
                direction(iv, above="tagflow_cpp faster", below=f"{other} faster"),
                f"{iv.value:.2f}x, 95 % CI [{iv.low:.2f}, {iv.high:.2f}]",
                "a winner only when the interval excludes 1",
            )
        )
    return out


def serving_section(serving: dict[str, Any]) -> str:
    import statistics

    rows = []
    for engine in SERVING_ENGINES:
        cells = [c for c in serving["cells"][engine] if "error" not in c]
        valid = [c for c in cells if not c.get("client_bound")]
        rps = [c["req_per_s"] for c in valid]
        cpu = [c["server_cpu_us_per_req"] for c in valid if c.get("server_cpu_us_per_req")]
        iv = _serving_ratio(serving, engine, "jinja2") if engine != "jinja2" else None
        rows.append([
            LABELS.get(engine, engine),
            f"{statistics.median(rps):,.0f} ({min(rps):,.0f}–{max(rps):,.0f})" if rps else "–",
            f"{statistics.median(cpu):,.0f}" if cpu else "–",
            f"{iv.value:.2f}x [{iv.low:.2f}, {iv.high:.2f}]" if iv else "–",
            f"{len(cells) - len(valid)} of {len(cells)}",
        ])  # fmt: skip
    table = markdown(
        ["engine", "requests/s (median, range)", "server CPU µs/request", "vs Jinja2 [95 % CI]",
         "client-bound rounds"],
        rows,
    )  # fmt: skip
    pinned = (
        "the server on one core, echoload on the other"
        if serving.get("pinned")
        else ("server and client sharing the cores")
    )
    return table + (
        f"\n\nOne `{serving['scenario']}` page per request, rendered by each engine inside the same"
        f" FastAPI app on uvicorn (`bench/serving_app.py`), driven by echoload (HTTP/1.1"
        f" keep-alive, {serving['connections']} connections, every response compared byte for"
        f" byte with the page fetched first; the pages were checked to be the same document"
        f" before timing): {serving['rounds']} rounds of {serving['seconds']:g} s, the engines"
        f" interleaved, {pinned}. Server CPU per request from /proc over exactly the measured"
        f" window; rounds where echoload used >= {CLIENT_SATURATED:.2f} of a core are left out.\n"
    )


#: The free-threading benchmark: rounds (every thread count and page once per round) and
#: seconds per cell.
SCALING_ROUNDS = {"quick": 2, "full": 10}
SCALING_SECONDS = {"quick": 0.3, "full": 1.0}
SCALING_PAGES = {"explicit": "explicit API", "compat": "compat"}


def _thread_counts() -> list[int]:
    """1, 2 and, where there are more cores, all of them (up to 8)."""
    return sorted({1, 2, min(len(os.sched_getaffinity(0)), 8)})


def _native_stamp() -> list[str]:
    """What a tagflow_cpp build depends on (editing experiment.py must not rebuild it)."""
    import hashlib

    from lab.venvs import tree_stamp

    here = Path(__file__).resolve().parent
    files = b"".join((here / f).read_bytes() for f in ("CMakeLists.txt", "pyproject.toml"))
    return [
        *(tree_stamp(here / d) for d in ("include", "src", "python")),
        hashlib.sha256(files).hexdigest()[:16],
    ]


def run_scaling(ctx: Any) -> dict[str, Any]:
    """Pages/s of tagflow_cpp rendered from 1 and more threads at once (a document each), on the
    free-threaded CPython 3.13t and on the GIL build beside it (3.13 PGO+LTO when provisioned,
    else the lab interpreter), each from a venv with tagflow_cpp built for it
    (bench/ft_scaling.py does the timing and checks every thread's page)."""
    import json
    import sys

    from lab import pythons
    from lab.venvs import Step, VenvError, ensure

    free_threaded = pythons.free_threaded()
    if free_threaded is None:
        # A quick run on a machine without 3.13t says so; a full (published) run needs it.
        return {
            "available": False,
            "required": not ctx.quick,
            "reason": "free-threaded CPython 3.13t is not built (make pythons)",
        }
    here = Path(__file__).resolve().parent
    mode = "quick" if ctx.quick else "full"
    rounds, seconds, counts = SCALING_ROUNDS[mode], SCALING_SECONDS[mode], _thread_counts()
    res: dict[str, Any] = {
        "available": True, "rounds": rounds, "seconds": seconds, "threads": counts, "builds": {},
    }  # fmt: skip
    for label, python in (("free-threaded", free_threaded),
                          ("GIL", pythons.built("pgo") or sys.executable)):  # fmt: skip
        ctx.progress.describe(f"free-threading: tagflow_cpp built for {python}")
        try:
            venv = ensure(
                "tagflow-scaling",
                python,
                [Step((str(here),), what="tagflow_cpp")],
                fingerprint=_native_stamp(),
                log=ctx.log,
            )
        except VenvError as exc:
            return {"available": False, "reason": f"{label} build ({python}): {exc}"}
        ctx.progress.describe(f"free-threading: {label} build, {counts} threads")
        cmd = [str(venv.python), str(here / "bench" / "ft_scaling.py"), "--rounds", str(rounds),
               "--seconds", str(seconds), "--threads", ",".join(map(str, counts))]  # fmt: skip
        budget = 120 + rounds * len(counts) * len(SCALING_PAGES) * (seconds + 5)
        proc = ctx.procs.run(cmd, timeout=budget, stdout=-1, stderr=-1, text=True)
        if proc.returncode != 0:
            why = (proc.stderr or proc.stdout)[-600:]
            return {"available": False, "reason": f"{label} build: exit {proc.returncode}: {why}"}
        data = json.loads(proc.stdout)
        data["interpreter"] = python
        res["builds"][label] = data
        ctx.progress.advance()
    return res


def _scaling_rates(build: dict[str, Any], page: str, threads: int) -> list[float]:
    """Pages/s per round for one page and thread count, in round order."""
    cells = [c for c in build["cells"] if c["page"] == page and c["threads"] == threads]
    return [c["pages"] / c["wall_s"] for c in sorted(cells, key=lambda c: c["round"])]


def _scaling_cores(build: dict[str, Any], page: str, threads: int) -> float:
    import statistics

    cells = [c for c in build["cells"] if c["page"] == page and c["threads"] == threads]
    return statistics.median(c["cpu_s"] / c["wall_s"] for c in cells)


def scaling_interval(build: dict[str, Any], page: str, threads: int) -> Any:
    """Pages/s with ``threads`` threads over pages/s with one, per round (paired), 95 % CI."""
    from lab.stats import ratio_interval

    return ratio_interval(_scaling_rates(build, page, threads), _scaling_rates(build, page, 1))


def scaling_verdicts(scaling: dict[str, Any]) -> list[Verdict]:
    from lab.stats import direction

    out = []
    top = max(scaling["threads"])
    for label, build in scaling["builds"].items():
        for page, name in SCALING_PAGES.items():
            iv = scaling_interval(build, page, top)
            out.append(
                verdict(
                    f"{name} pages/s from {top} threads vs 1, Python {build['python']} {label}",
                    direction(iv, above=f"{top} threads faster", below=f"{top} threads slower"),
                    f"{iv.value:.2f}x, 95 % CI [{iv.low:.2f}, {iv.high:.2f}]",
                    "faster or slower only when the interval excludes 1",
                )
            )
    return out


def scaling_section(scaling: dict[str, Any]) -> str:
    import statistics

    if not scaling.get("available"):
        return f"Not measured: {scaling.get('reason')}."
    top = max(scaling["threads"])
    rows = []
    for build in scaling["builds"].values():
        kind = "free-threaded, GIL off" if not build["gil_enabled"] else "with the GIL"
        for page, name in SCALING_PAGES.items():
            iv = scaling_interval(build, page, top)
            rows.append([
                f"{build['python']} {kind}",
                name,
                f"{statistics.median(_scaling_rates(build, page, 1)):,.0f}",
                f"{statistics.median(_scaling_rates(build, page, top)):,.0f}",
                f"{iv.value:.2f}x [{iv.low:.2f}, {iv.high:.2f}]",
                f"{_scaling_cores(build, page, top):.2f}",
            ])  # fmt: skip
    table = markdown(
        ["Python", "API", "pages/s, 1 thread", f"pages/s, {top} threads",
         f"{top} threads / 1 [95 % CI]", f"CPU cores busy, {top} threads"],
        rows,
        "llrrrr",
    )  # fmt: skip
    first = next(iter(scaling["builds"].values()))
    return table + (
        f"\n\nEach thread renders its own document, a {first['rows']:,}-row table "
        f"(`bench/ft_scaling.py`), for {scaling['seconds']:g} s per cell; {scaling['rounds']} "
        "rounds, thread counts interleaved within each, the ratio paired by round. Before timing, "
        "every thread's page is checked against the one-thread page, and on 3.13t a re-enabled "
        f"GIL would fail the run. {first['cpus']} CPUs here.\n"
    )


def _other_interpreters_section(results: dict[str, Any]) -> list[str]:
    others = results.get("other_interpreters", [])
    if not others:
        return [
            f"Measured on Python {results.get('python_version', '?')} only (provision 3.13 with "
            "`make pythons` to add it)."
        ]
    out = [
        f"The table above is Python {results.get('python_version', '?')}. The same run on the "
        "other interpreters (speedups as ratios of medians; geometric means over the scenarios):",
        "",
    ]
    header = [
        "Python",
        *(f"vs Jinja2 {s}" for s in SCENARIOS),
        *(f"{label} (geo)" for *_, label in GOALS),
    ]
    body: list[list[object]] = []
    for o in others:
        if "analysis" not in o:
            missing = f"not measured: {o.get('reason')}"
            body.append([o["requested"], missing, *[""] * (len(header) - 2)])
            continue
        a = o["analysis"]
        per = a["speedups"]["tagflow_cpp/jinja2"]
        cells = [f"{per[s]:.1f}x" if s in per else "n/a" for s in SCENARIOS]
        geo = {g["goal"]: g for g in a["goals"]}

        body.append(
            [
                o.get("python_version") or o["requested"],
                *cells,
                *(_measured(geo[desc]) if desc in geo else "n/a" for desc, *_ in GOALS),
            ]
        )
    out.append(markdown(header, body, "l" + "r" * (len(header) - 1)))
    return out


def _binding_section(b: dict[str, Any]) -> str:
    if not b.get("available"):
        return f"Binding comparison not measured: {b.get('reason', 'not run')}."
    rows = [
        f"nanobind {b['nanobind']} prototype vs this C API binding, Python {b['python']}, best of "
        f"{b['rounds']} interleaved rounds of {b['calls']:,} calls each:",
        "",
    ]
    calls = []
    for call, capi in b["capi_ns"].items():
        nb = b["nanobind_ns"][call]
        calls.append([f"`{call}`", f"{capi:.0f} ns", f"{nb:.0f} ns", f"{nb / capi:.2f}x"])
    rows.append(markdown(["call", "C API", "nanobind", "nanobind / C API"], calls, "lrrr"))
    return "\n".join(rows)
