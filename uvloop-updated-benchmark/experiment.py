"""uvloop-updated-benchmark: the `lab` plug-in (see lab/experiment.py).

asyncio vs uvloop vs rloop echo servers on every interpreter `lab` gives us
(3.11 and the 3.13 built by `lab pythons`), driven by the C++ load generator
`echoload`; the original study's grid, a concurrency sweep, latency at fixed
rates, the C++ ceiling, a cross-check with the original's Python client and an
isolation of the sock_recv code path. See README.md.

Quick mode (~3 min): the whole original grid on every interpreter, 3 repetitions of 0.1 s
warm-up + 0.25 s per cell; sweep (sockets, protocol), fixed-rate latency (protocol, 2 rates) and
the cross-check (1000 B) on the newest interpreter only.

Full mode (~20 min, budget 25): 5 repetitions of 0.3 s warm-up + 1 s window per cell, one server
process per cell, loops and Pythons compared side by side in time. Runs everything the
headline verdicts use on every interpreter: the original grid (4 APIs x 3 sizes x 3 loops), the
uvloop 0.21.0 cells, the C++ ceiling and the sock_recv isolation. Cut to fit the budget (it used to
take about an hour): the concurrency sweep (sockets and protocol only, was all 4 APIs) and the
fixed-rate latency (rates 2,000/10,000/40,000, was 5 rates) run on the newest interpreter only,
the cross-check on the newest interpreter at 1000 and 100000 B (was every interpreter, 3 sizes)
with 1.5 s windows (was 3 s), and measurement windows are 1 s (were 2 s, warm-up 0.5 s).
"""

from __future__ import annotations

import csv
import os
import statistics
from collections.abc import Callable
from typing import Any

from uvloop_bench import analysis, report
from uvloop_bench.codepaths import sock_recv_sources
from uvloop_bench.runner import Bench, Cell, CellError, Load, Server, Tools, measure_cell

TITLE = "asyncio vs uvloop vs rloop on Python 3.11 and 3.13, C++ load generator"
ISSUE = 6

QUICK = {"reps": 3, "warmup": 0.1, "duration": 0.25}
FULL = {"reps": 5, "warmup": 0.3, "duration": 1.0}
CROSSCHECK_SECONDS = {"quick": 0.6, "full": 1.5}
#: (message size, requests in flight) where sock_recv variants are compared.
SOCK_RECV_CONDITIONS = ((1000, 1), (100000, 1), (1000, 8))


def _prepare_pythons(ctx: Any) -> list[dict[str, Any]]:
    from uvloop_bench.envs import ORIGINAL_UVLOOP, loop_venv, loops

    from lab.venvs import VenvError

    out = []
    for exe in ctx.pythons:
        ctx.progress.describe(f"venv for {exe}")
        try:
            venv = loop_venv(exe, log=ctx.log)
        except VenvError as exc:
            out.append({"exe": exe, "ok": False, "error": str(exc)})
            ctx.log(f"skipping {exe}: {exc}")
            continue
        try:
            old = loop_venv(exe, packages=(ORIGINAL_UVLOOP,), optional=(), log=ctx.log).python
        except VenvError as exc:
            old = None
            ctx.log(f"{ORIGINAL_UVLOOP} does not install for {exe}: {exc}")
        out.append(
            {
                "exe": exe,
                "ok": True,
                "original_uvloop_python": str(old) if old else None,
                "version": venv.manifest["version"],
                "venv_python": str(venv.python),
                "loops": loops(venv),
                "skipped": venv.skipped,
            }
        )
    return out


Task = tuple[str, str, Callable[[], Any]]


def _plan(ctx: Any, bench: Bench, pythons: list[dict[str, Any]]) -> list[Task]:
    """Every measurement as (section, label, thunk), so progress knows the total up front."""
    mode = QUICK if ctx.quick else FULL
    reps, warm, dur = mode["reps"], mode["warmup"], mode["duration"]
    ok = [p for p in pythons if p["ok"]]
    # The sweep, the fixed-rate latency and the cross-check run on the newest interpreter only
    # (in full mode too, to fit its time budget); the grid, the ceiling and sock_recv on all.
    newest = ok[-1:]
    tasks: list[Task] = []

    def server(p: dict[str, Any], loop: str, api: str) -> Server:
        return Server(python=p["venv_python"], python_version=p["version"], loop=loop, api=api)

    def add(section: str, srv: Server, load: Load, key: dict[str, Any], stats: bool = False):
        tasks.append(
            (
                section,
                f"{section}: {srv.label} {load.size} B c={load.connections}"
                + (f" rate={load.rate:g}" if load.rate else ""),
                lambda: measure_cell(bench, srv, load, reps, key, stats=stats),
            )
        )

    # 1. The original's grid: 3 connections, ping-pong, 1000/10000/100000 bytes. The cells
    #    compared with each other (loops, Pythons) run next to each other in time, so a
    #    change in the machine's background load hits them alike.
    for api in analysis.APIS:
        for size in analysis.SIZES:
            for p in ok:
                for loop in analysis.LOOPS:
                    if loop not in p["loops"]:
                        continue
                    key = {"python": p["version"], "loop": loop, "api": api, "size": size}
                    load = Load(connections=3, size=size, warmup=warm, duration=dur)
                    add("grid", server(p, loop, api), load, key)
            # The uvloop the original used (0.21.0), on the newest Python, right beside.
            newest_ok = ok[-1]
            if api in analysis.ORIGINAL_APIS and newest_ok.get("original_uvloop_python"):
                key = {"python": newest_ok["version"], "loop": "uvloop", "uvloop": "0.21.0"}
                key |= {"api": api, "size": size}
                srv = Server(
                    python=newest_ok["original_uvloop_python"],
                    python_version=f"{newest_ok['version']} (uvloop 0.21.0)",
                    loop="uvloop",
                    api=api,
                )
                add(
                    "uvloop021", srv, Load(connections=3, size=size, warmup=warm, duration=dur), key
                )
    # 2. Concurrency sweep at 1000 bytes.
    sweep_apis = ("sockets", "protocol")
    for p in newest:
        for loop in analysis.LOOPS:
            if loop not in p["loops"]:
                continue
            for api in sweep_apis:
                for conns in (1, 10, 100):
                    key = {"python": p["version"], "loop": loop, "api": api, "connections": conns}
                    load = Load(connections=conns, size=1000, warmup=warm, duration=dur)
                    add("sweep", server(p, loop, api), load, key)
    # 3. Latency at fixed rates (open loop, latency from each request's intended send time).
    rates = (5000, 15000) if ctx.quick else (2000, 10000, 40000)
    lat_apis = ("protocol",) if ctx.quick else ("sockets", "protocol")
    for p in newest:
        for loop in analysis.LOOPS:
            if loop not in p["loops"]:
                continue
            for api in lat_apis:
                for rate in rates:
                    key = {"python": p["version"], "loop": loop, "api": api, "rate": rate}
                    load = Load(connections=3, size=1000, rate=rate, warmup=warm, duration=dur)
                    add("latency", server(p, loop, api), load, key)
    # 4. The ceiling: C++ servers, same 3 connections and 1000 bytes, then pipelined.
    for engine in ("epoll", "io_uring"):
        for depth in (1, 16, 64):
            key = {"engine": engine, "depth": depth, "size": 1000, "connections": 3}
            load = Load(connections=3, size=1000, depth=depth, warmup=warm, duration=dur)
            add("ceiling", Server(engine=engine), load, key)
    # 5. The sock_recv code path: eager recv() first vs always wait, on asyncio and uvloop,
    #    in ping-pong (plain sockets at depth 1 come from the grid), with 100 kB messages
    #    (which arrive in pieces) and with 8 requests in flight per connection.
    for size, depth in SOCK_RECV_CONDITIONS:
        for p in ok:
            for loop in ("asyncio", "uvloop"):
                if loop not in p["loops"]:
                    continue
                for api in ("sockets", "sockets-eager", "sockets-wait"):
                    if api == "sockets" and depth == 1:
                        continue
                    key = {"python": p["version"], "loop": loop, "api": api, "size": size}
                    key["depth"] = depth
                    load = Load(connections=3, size=size, depth=depth, warmup=warm, duration=dur)
                    add("sock_recv", server(p, loop, api), load, key, stats=True)
    # 6. Cross-check with the original's client on the same servers.
    sizes = (1000,) if ctx.quick else (1000, 100000)
    for p in newest:
        for loop, api in (("asyncio", "sockets"), ("uvloop", "protocol"), ("uvloop", "sockets")):
            if loop not in p["loops"]:
                continue
            for size in sizes:
                key = {"python": p["version"], "loop": loop, "api": api, "size": size}
                tasks.append(
                    (
                        "crosscheck",
                        f"crosscheck: {loop} {api} {size} B",
                        lambda p=p, loop=loop, api=api, size=size, key=key: _crosscheck(
                            bench, ctx.mode, server(p, loop, api), size, key
                        ),
                    )
                )
    return tasks


def _crosscheck(
    bench: Bench, mode_name: str, srv: Server, size: int, key: dict[str, Any]
) -> dict[str, Any]:
    """echoload and the original's client (3 processes, blocking sockets) on one server."""
    mode = QUICK if mode_name == "quick" else FULL
    seconds = CROSSCHECK_SECONDS[mode_name]
    out: dict[str, Any] = {"key": key, "ok": True, "error": None}
    try:
        with bench.serve(srv) as running:
            runs_e, runs_p, runs_e_cpu = [], [], []
            for _ in range(mode["reps"]):
                e = bench.load(
                    running,
                    Load(connections=3, size=size, warmup=mode["warmup"], duration=seconds),
                )
                runs_e.append(e["req_per_s"])
                messages = max(200, int(e["req_per_s"] * seconds / 3))
                runs_p.append(bench.pyclient(running, size=size, messages=messages))
                runs_e_cpu.append(1e6 * (e["cpu"]["user_s"] + e["cpu"]["sys_s"]) / e["requests"])
        out["echoload_req_per_s"] = statistics.median(runs_e)
        out["pyclient_loop_req_per_s"] = statistics.median([r["loop_req_per_s"] for r in runs_p])
        out["pyclient_wall_req_per_s"] = statistics.median([r["wall_req_per_s"] for r in runs_p])
        out["pyclient_cpu_cores"] = statistics.median([r["client_cpu_cores"] for r in runs_p])
        out["echoload_cpu_us_per_req"] = statistics.median(runs_e_cpu)
        out["pyclient_cpu_us_per_req"] = statistics.median(
            [1e6 * r["client_cpu_s"] / r["messages"] for r in runs_p]
        )
        out["difference"] = out["pyclient_loop_req_per_s"] / out["echoload_req_per_s"] - 1
        out["pyclient_saturated"] = out["pyclient_cpu_cores"] >= 0.85
    except (CellError, OSError, ValueError) as exc:
        out.update(ok=False, error=str(exc))
    return out


def run(ctx: Any) -> dict[str, Any]:
    tools = Tools.find()
    ctx.progress.describe("preparing interpreters")
    pythons = _prepare_pythons(ctx)
    if not any(p["ok"] for p in pythons):
        raise RuntimeError("no interpreter could get a venv with uvloop; see the log")
    bench = Bench(ctx.procs, tools)
    if not bench.pin:
        ctx.log("CPUs 0 and 1 are not both available: server and load generator are not pinned")
    tasks = _plan(ctx, bench, pythons)
    load_start = os.getloadavg()
    ctx.progress.set_total(len(tasks))
    sections: dict[str, list[dict[str, Any]]] = {}
    for section, label, thunk in tasks:
        ctx.progress.describe(label)
        res = thunk()
        d = res.as_dict() if isinstance(res, Cell) else res
        if not d.get("ok", True):
            ctx.log(f"failed: {label}: {d.get('error')}")
        sections.setdefault(section, []).append(d)
        ctx.progress.advance()
    mode = QUICK if ctx.quick else FULL
    results: dict[str, Any] = {
        "config": {
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "mode": ctx.mode,
            **mode,
            "pinned": bench.pin,
            "server_cpu": 0,
            "load_cpu": 1,
            "echoload_threads": 1,
        },
        "pythons": pythons,
        "grid": sections.get("grid", []),
        "sweep": sections.get("sweep", []),
        "latency": sections.get("latency", []),
        "ceiling": sections.get("ceiling", []),
        "sock_recv": sections.get("sock_recv", []),
        "crosscheck": sections.get("crosscheck", []),
        "uvloop021": sections.get("uvloop021", []),
        "code": {p["version"]: sock_recv_sources(p["venv_python"]) for p in pythons if p["ok"]},
    }
    results["analysis"] = analysis.analyze(results)
    results["verdicts"] = analysis.decide(results)
    _write_csv(ctx, results)
    for path in report.plots(results, ctx.out):
        ctx.artifact(path)
    return results


def _write_csv(ctx: Any, results: dict[str, Any]) -> None:
    path = ctx.out / "cells.csv"
    stats = ("req_per_s", "mb_per_s", "p50_us", "p99_us", "server_cpu_us_per_req", "echoload_cores")
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["section", "python", "loop", "api", "engine", "size", "connections", "rate", "depth"]
            + ["ok", "error"]
            + [f"{s}_{x}" for s in stats for x in ("median", "min", "max")]
        )
        for section in ("grid", "sweep", "latency", "ceiling", "sock_recv", "uvloop021"):
            for c in results[section]:
                k = c["key"]
                row = [section] + [
                    k.get(f, "")
                    for f in (
                        "python",
                        "loop",
                        "api",
                        "engine",
                        "size",
                        "connections",
                        "rate",
                        "depth",
                    )
                ]
                row += [c["ok"], c["error"] or ""]
                for s in stats:
                    v = c["stats"].get(s, {})
                    row += [v.get("median", ""), v.get("min", ""), v.get("max", "")]
                w.writerow(row)
    ctx.artifact(path)


SECTIONS = ("grid", "sweep", "latency", "ceiling", "sock_recv", "crosscheck", "uvloop021")


def errors(results: dict[str, Any]) -> list[str]:
    """Harness errors: an interpreter that got no venv, an event loop or uvloop 0.21.0 that did
    not install, a cell (server, echoload run, cross-check) that failed, a section with no cell."""
    out: list[str] = []
    pythons = results.get("pythons") or []
    ok = [p for p in pythons if p.get("ok")]
    for p in pythons:
        if not p.get("ok"):
            out.append(f"interpreter {p.get('exe')}: {p.get('error') or 'no venv'}")
            continue
        for loop, why in (p.get("skipped") or {}).items():
            out.append(f"{loop} not installed for Python {p.get('version')}: {why}")
    if ok and not ok[-1].get("original_uvloop_python"):
        out.append(f"uvloop 0.21.0 did not install for Python {ok[-1].get('version')}")
    if not ok:
        out.append("no interpreter could run")
    for section in SECTIONS:
        cells = results.get(section) or []
        if not cells and (section != "uvloop021" or (ok and ok[-1].get("original_uvloop_python"))):
            out.append(f"{section}: no cell measured")
        for c in cells:
            if not c.get("ok"):
                key = " ".join(f"{k}={v}" for k, v in (c.get("key") or {}).items())
                out.append(f"{section} {key}: {c.get('error') or 'failed'}")
    return out


def measurement_count(results: dict[str, Any]) -> int:
    """Cells measured successfully (each one server, several echoload runs), all sections."""
    return sum(1 for s in SECTIONS for c in results.get(s) or [] if c.get("ok"))


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for py, o in results["analysis"]["overall"].items():
        if o["cells"]:
            rows.append(
                (
                    f"uvloop/asyncio on {py} (geo. mean, original grid)",
                    f"{o['geomean']:.2f}x (ratio of means {o['ratio_of_means']:.2f}x; "
                    "original 1.68x)",
                )
            )
    for py, v in results["analysis"]["sockets"].items():
        rows.append((f"asyncio beats uvloop at sockets on {py}?", v["answer"]))
    c = results["analysis"]["ceiling"]
    if c.get("best_epoll"):
        best = c["best_epoll"]
        rows.append(
            (
                "echoload capacity vs fastest Python server (C++ epoll, 3 connections, one core)",
                f"{best['ratio']:.1f}x at depth {best['depth']} "
                f"({'passes' if c['passes'] else 'below'} the 3x requirement)",
            )
        )
    return rows


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    return report.readme_sections(results)
