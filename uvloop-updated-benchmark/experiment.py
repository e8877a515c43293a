"""uvloop-updated-benchmark: the `lab` plug-in (see lab/experiment.py).

asyncio vs uvloop vs rloop vs ringloop (this repository's loop) servers driven by the C++ load
generator `echoload`, on the
interpreters users run (PGO+LTO builds: Debian's python3.11, `lab pythons`' 3.13; and the
builds without PGO beside them). The primary result is saturation: server CPU per request and
requests/s with the server's core >= 95 % busy; the original study's 3-connection ping-pong is
kept as its own question (latency-bound); HTTP/1.1 with httptools and streams; the C++ epoll
and io_uring servers as the floor. Loops are interleaved within every repetition; ratios and
geometric means carry bootstrap 95 % intervals. What each mode runs: uvloop_bench/plan.py.
"""

from __future__ import annotations

import csv
import os
import statistics
from typing import Any

from uvloop_bench import analysis, plan, report
from uvloop_bench.runner import (
    SERVER_SATURATED_CORES,
    Bench,
    CellError,
    Load,
    Server,
    Tools,
    measure_group,
    run_problems,
)

TITLE = "asyncio vs uvloop vs rloop vs ringloop: CPU per request at saturation, C++ load generator"
ISSUE = 14

CROSSCHECK_SECONDS = {"quick": 0.6, "full": 1.5}
#: Where Debian's own interpreter is (PGO+LTO, as Debian builds it).
DEBIAN_PYTHON = "/usr/bin/python3.11"


def _build(exe: str) -> str:
    """How the interpreter at ``exe`` was built, in one word."""
    from lab import pythons

    info = pythons.provenance(exe)
    if info is not None:
        return str(info.get("flavour", "plain"))
    real = os.path.realpath(exe)
    if real.startswith("/usr/bin/"):
        return "debian"
    return "pyenv" if "/.pyenv/" in real else "custom"


def _prepare_pythons(ctx: Any) -> list[dict[str, Any]]:
    from uvloop_bench.envs import ORIGINAL_UVLOOP, loop_venv, loops

    from lab import pythons
    from lab.venvs import VenvError

    wanted = list(ctx.pythons)
    if not ctx.quick:  # the distribution's build and the build without PGO, for comparison
        for extra in (
            DEBIAN_PYTHON if os.path.exists(DEBIAN_PYTHON) else None,
            pythons.built("plain"),
        ):
            if extra and extra not in wanted:
                wanted.append(extra)
    out = []
    for exe in wanted:
        ctx.progress.describe(f"venv for {exe}")
        try:
            venv = loop_venv(exe, log=ctx.log)
        except VenvError as exc:
            out.append({"exe": exe, "ok": False, "error": str(exc)})
            ctx.log(f"skipping {exe}: {exc}")
            continue
        try:
            old = loop_venv(
                exe, packages=(ORIGINAL_UVLOOP,), optional=(), ringloop=False, log=ctx.log
            ).python
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
                "build": _build(exe),
            }
        )
    seen: set[tuple[str, str]] = set()
    for p in out:  # one interpreter per version and build (a cached build can appear twice)
        if p["ok"]:
            key = (p["version"], p["build"])
            if key in seen:
                p.update(ok=False, error="duplicate", duplicate=True)
            seen.add(key)
    out = [p for p in out if not p.get("duplicate")]
    ok = [p for p in out if p["ok"]]
    fast = {p["version"][:4] for p in ok if p["build"] in ("pgo", "debian")}
    for p in ok:
        # Everywhere: the distribution-style builds, and a version that has no such build here;
        # beside them (the PGO comparison): a build without PGO of a version that has one.
        p["main"] = p["build"] in ("pgo", "debian") or p["version"][:4] not in fast
    return out


def _calibrate(ctx: Any, bench: Bench, mode: plan.Mode, p: dict[str, Any]) -> dict[str, Any]:
    """Per size, the fewest connections (of plan.CONNECTIONS) that keep the fastest Python
    server (uvloop, protocol, newest main interpreter) >= 95 % busy with a valid client."""
    out: dict[str, Any] = {"connections": {}, "probes": []}
    srv = Server(
        python=p["venv_python"],
        python_version=p["version"],
        loop="uvloop",
        api="protocol",
        build=p["build"],
    )
    with bench.serve(srv) as running:
        for size in mode.sizes:
            chosen = plan.CONNECTIONS[-1]
            for conns in plan.CONNECTIONS:
                ctx.progress.describe(f"calibrating: {size} B, {conns} connections")
                run = bench.load(running, Load(conns, size, warmup=0.2, duration=0.5))
                busy = run.get("server_cpu_cores") or 0.0
                problems = run_problems(run)
                out["probes"].append(
                    {
                        "size": size,
                        "connections": conns,
                        "server_cores": busy,
                        "req_per_s": run["req_per_s"],
                        "problems": problems,
                    }
                )
                if busy >= SERVER_SATURATED_CORES and not problems:
                    chosen = conns
                    break
            out["connections"][size] = chosen
    return out


def _crosscheck(
    bench: Bench, mode_name: str, srv: Server, size: int, key: dict[str, Any]
) -> dict[str, Any]:
    """echoload and the original's client (3 processes, blocking sockets) on one server."""
    mode = plan.QUICK if mode_name == "quick" else plan.FULL
    seconds = CROSSCHECK_SECONDS[mode_name]
    out: dict[str, Any] = {"key": key, "ok": True, "error": None}
    try:
        with bench.serve(srv) as running:
            runs_e, runs_p, runs_e_cpu = [], [], []
            for _ in range(mode.reps):
                e = bench.load(
                    running,
                    Load(connections=3, size=size, warmup=mode.warmup, duration=seconds),
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
    mode = plan.QUICK if ctx.quick else plan.FULL
    ctx.progress.describe("preparing interpreters")
    pythons = _prepare_pythons(ctx)
    ok = [p for p in pythons if p["ok"]]
    if not ok:
        raise RuntimeError("no interpreter could get a venv with uvloop; see the log")
    bench = Bench(ctx.procs, tools)
    if not bench.pin:
        ctx.log("CPUs 0 and 1 are not both available: server and load generator are not pinned")
    main = [p for p in ok if p["main"]]
    load_start = os.getloadavg()
    calibration = _calibrate(ctx, bench, mode, main[-1])
    groups = plan.groups(mode, ok, calibration["connections"])
    windows = sum(len(g.servers) for g in groups) * mode.reps
    ctx.progress.set_total(windows + 1)
    cells: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        for cell in measure_group(
            bench, group, mode.reps, on_window=lambda note: ctx.progress.advance(1, note)
        ):
            d = cell.as_dict()
            if not d["ok"]:
                ctx.log(f"failed: {group.label} {d['key'].get('contender')}: {d['error']}")
            cells.setdefault(group.section, []).append(d)
    newest = main[-1]
    crosscheck = []
    for loop, api in (("asyncio", "protocol"), ("uvloop", "protocol")):
        if loop in newest["loops"]:
            srv = Server(
                python=newest["venv_python"],
                python_version=newest["version"],
                loop=loop,
                api=api,
                build=newest["build"],
            )
            key = {"python": newest["version"], "loop": loop, "api": api, "size": 1000}
            crosscheck.append(_crosscheck(bench, ctx.mode, srv, 1000, key))
    ctx.progress.advance()
    results: dict[str, Any] = {
        "config": {
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "mode": mode.name,
            "reps": mode.reps,
            "warmup": mode.warmup,
            "duration": mode.duration,
            "sampled": mode.sampled,
            "pinned": bench.pin,
            "server_cpu": 0,
            "load_cpu": 1,
            "cpus": os.cpu_count(),
        },
        "two_clients": _two_clients(ctx, bench, mode, newest, calibration["connections"][1000]),
        "pythons": pythons,
        "calibration": calibration,
        "saturation": cells.get("saturation", []),
        "pingpong": cells.get("pingpong", []),
        "http": cells.get("http", []),
        "crosscheck": crosscheck,
    }
    results["analysis"] = analysis.analyze(results)
    results["verdicts"] = analysis.decide(results)
    _write_csv(ctx, results)
    for path in report.plots(results, ctx.out):
        ctx.artifact(path)
    return results


def _two_clients(
    ctx: Any, bench: Bench, mode: plan.Mode, p: dict[str, Any], conns: int
) -> dict[str, Any]:
    """Does a second echoload process on its own core change the server's rate? (It must not:
    one client has headroom.) Interleaved rounds, one and two clients, uvloop protocol 1,000 B."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 3:
        return {
            "ran": False,
            "why": f"{len(cpus)} CPUs: the server has one and echoload the "
            "other; two echoload processes on separate cores need at least 3",
        }
    srv = Server(
        python=p["venv_python"],
        python_version=p["version"],
        loop="uvloop",
        api="protocol",
        build=p["build"],
    )
    load = Load(conns, 1000, warmup=mode.warmup, duration=mode.duration)
    one, two = [], []
    with bench.serve(srv) as running:
        for rep in range(mode.reps):
            ctx.progress.describe(f"two-client check, round {rep + 1}/{mode.reps}")
            one.append(bench.load(running, load)["req_per_s"])
            two.append(bench.load(running, load, clients=cpus[1:3])["req_per_s"])
    from lab.stats import ratio_interval

    return {"ran": True, "one": one, "two": two, "two_over_one": ratio_interval(two, one).as_dict()}


SECTIONS = ("saturation", "pingpong", "http")
KEY_FIELDS = ("contender", "python", "build", "loop", "api", "engine", "size", "connections")


def _write_csv(ctx: Any, results: dict[str, Any]) -> None:
    """Every window of every cell: one row each, with the client's and the server's CPU."""
    path = ctx.out / "windows.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "section",
                *KEY_FIELDS,
                "round",
                "req_per_s",
                "p50_us",
                "p99_us",
                "server_cpu_us_per_req",
                "server_cpu_cores",
                "client_cores_max",
                "problems",
            ]
        )
        for section in SECTIONS:
            for c in results[section]:
                for r in c["runs"]:
                    lat = r.get("latency_us") or {}
                    secs = r.get("seconds") or 1
                    client = max((t["cpu_s"] or 0) / secs for t in r["threads"])
                    w.writerow(
                        [
                            section,
                            *(c["key"].get(f, "") for f in KEY_FIELDS),
                            r.get("round"),
                            r.get("req_per_s"),
                            lat.get("p50"),
                            lat.get("p99"),
                            r.get("server_cpu_us_per_req"),
                            r.get("server_cpu_cores"),
                            round(client, 3),
                            "; ".join(r["problems"]),
                        ]
                    )
    ctx.artifact(path)


def errors(results: dict[str, Any]) -> list[str]:
    """Harness errors: an interpreter that got no venv, an event loop or uvloop 0.21.0 that did
    not install, a contender that failed, a window where the client or the server waited for
    its CPU (a busy machine), an empty section. A client that saturated its core marks its cell
    invalid (shown as such, left out of every ratio) without failing the run."""
    out: list[str] = []
    pythons = results.get("pythons") or []
    ok = [p for p in pythons if p.get("ok")]
    for p in pythons:
        if not p.get("ok"):
            out.append(f"interpreter {p.get('exe')}: {p.get('error') or 'no venv'}")
            continue
        for loop, why in (p.get("skipped") or {}).items():
            out.append(f"{loop} not installed for Python {p.get('version')}: {why}")
    main = [p for p in ok if p.get("main")]
    if main and not main[-1].get("original_uvloop_python"):
        out.append(f"uvloop 0.21.0 did not install for Python {main[-1].get('version')}")
    if not ok:
        out.append("no interpreter could run")
    for section in SECTIONS:
        cells = results.get(section) or []
        if not cells and section != "http":
            out.append(f"{section}: no cell measured")
        for c in cells:
            who = f"{section} {c['key'].get('api')} {c['key'].get('size')} B " + str(
                c["key"].get("contender")
            )
            if not c.get("ok"):
                out.append(f"{who}: {c.get('error') or 'failed'}")
                continue
            # Waiting for a CPU means the machine was busy: re-run on a quiet one (a starved
            # window was measured again before it came to this, and any left fails the run,
            # even in a cell whose other windows suffice). A client that used its whole core is
            # this machine's limit: the window or the cell is shown as invalid (no figure, no
            # verdict), which is the finding for it, not an error.
            starved = {p for r in c["runs"] for p in r.get("problems", []) if "starved" in p}
            out.extend(f"{who}: {problem}" for problem in sorted(starved))
            # A floor contender (driven at a fixed rate) gets a perf-sampled window per round.
            sampled = (results.get("config") or {}).get("sampled")
            if sampled and "rate" in c["key"] and "server_user_us_per_req" not in c["stats"]:
                out.append(f"{who}: no user-space CPU sampled")
    for c in results.get("crosscheck") or []:
        if not c.get("ok"):
            out.append(f"crosscheck {c['key']}: {c.get('error')}")
    return out


def measurement_count(results: dict[str, Any]) -> int:
    """Windows measured successfully, all sections."""
    return sum(len(c["runs"]) for s in SECTIONS for c in results.get(s) or [] if c.get("ok"))


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    return analysis.summary_rows(results)


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    return report.readme_sections(results)
