"""Runs echo servers and load generators as pinned child processes and measures cells.

A *cell* is one server (Python interpreter x loop x API, or a C++ engine) under
one load (connections, message size, pipelining depth, rate). It is measured
``reps`` times against one server process; each repetition is a fresh
``echoload`` run (own connections, warm-up, measured window). The server is
pinned to CPU 0, the load generator to CPU 1 (``taskset``), ports are picked
free, and every process goes through a :class:`lab.procs.ProcessGroup`, so
none survives an error or Ctrl-C. A cell that fails records its error and the
run goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.procs import ProcessGroup, free_port, wait_for_port
from uvloop_bench import usercpu

HERE = Path(__file__).resolve().parent
SERVERS_PY = HERE / "servers.py"
PYCLIENT_PY = HERE / "pyclient.py"
SERVER_CPU, CLIENT_CPU = 0, 1


class CellError(RuntimeError):
    """A measurement failed; the message says what and why (shown in the results)."""


@dataclass(frozen=True)
class Tools:
    echoload: Path
    echoserver: Path

    @classmethod
    def find(cls, build_dir: Path | None = None) -> Tools:
        """The C++ binaries of the release build (``lab.paths.built``; ``LAB_BUILD_DIR``
        points at another build), or those in ``build_dir``."""
        from lab.paths import built

        if build_dir is not None:
            d = build_dir / "uvloop-updated-benchmark"
            if (d / "echoload").is_file() and (d / "echoserver").is_file():
                return cls(d / "echoload", d / "echoserver")
        try:
            return cls(
                built("uvloop-updated-benchmark", "echoload"),
                built("uvloop-updated-benchmark", "echoserver"),
            )
        except FileNotFoundError as exc:
            raise CellError(str(exc)) from None


@dataclass(frozen=True)
class Server:
    """What to run: a Python echo server (python, loop, api) or a C++ one (engine)."""

    python: str | None = None  # the venv interpreter
    python_version: str | None = None
    loop: str | None = None
    api: str | None = None
    engine: str | None = None  # epoll | io_uring | epoll-http | epoll-busy (busy polling)
    build: str | None = None  # how the interpreter was built: pgo, plain, debian, ...

    @property
    def label(self) -> str:
        if self.engine:
            return f"C++ {self.engine}"
        return f"Python {self.python_version} {self.loop} {self.api}"

    def argv(self, port: int, tools: Tools, stats: Path | None = None) -> list[str]:
        if self.engine:
            engine, _, variant = self.engine.partition("-")  # "epoll-http": epoll, HTTP/1.1
            argv = [str(tools.echoserver), "--engine", engine, "--port", str(port)]
            if variant == "busy":
                return [*argv, "--busy-poll"]
            return argv + (["--protocol", variant] if variant else [])
        assert self.python and self.loop and self.api
        cmd = [self.python, str(SERVERS_PY), "--loop", self.loop, "--api", self.api]
        cmd += ["--port", str(port)]
        if stats is not None:
            cmd += ["--stats", str(stats)]
        return cmd


@dataclass(frozen=True)
class Load:
    connections: int = 3
    size: int = 1000
    depth: int = 1
    rate: float = 0.0  # total req/s; 0 = closed loop
    warmup: float = 1.0
    duration: float = 5.0
    threads: int = 1
    mode: str = "echo"  # echo | http
    #: > 0: after the measured window, a second one of this many seconds with perf sampling the
    #: server, for its user-space CPU per request (usercpu; a separate window because sampling
    #: makes the server's context switches dearer).
    sampled: float = 0.0

    def argv(self, tools: Tools, port: int, server_pid: int | None = None) -> list[str]:
        return [
            str(tools.echoload),
            "--port", str(port),
            "--connections", str(self.connections),
            "--threads", str(self.threads),
            "--size", str(self.size),
            "--depth", str(self.depth),
            "--rate", repr(float(self.rate)),
            "--warmup", repr(float(self.warmup)),
            "--duration", repr(float(self.duration)),
            *(["--mode", self.mode] if self.mode != "echo" else []),
            *(["--server-pid", str(server_pid)] if server_pid else []),
            "--json",
        ]  # fmt: skip


def pinning_available() -> bool:
    """Whether CPUs 0 and 1 both exist for this process (server on 0, load on 1)."""
    try:
        return {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)
    except AttributeError:  # pragma: no cover - not Linux
        return False


def schedstat(pid: int) -> tuple[float, float]:
    """(seconds on CPU, seconds waiting in the run queue) of a process, all its threads, from
    /proc/<pid>/task/*/schedstat (nanosecond resolution)."""
    on_cpu = waiting = 0
    for task in os.scandir(f"/proc/{pid}/task"):
        with (
            contextlib.suppress(FileNotFoundError, ProcessLookupError),
            open(f"{task.path}/schedstat") as fh,
        ):
            fields = fh.read().split()
            on_cpu += int(fields[0])
            waiting += int(fields[1])
    return on_cpu / 1e9, waiting / 1e9


def _sched_or_none(proc: subprocess.Popen[Any]) -> tuple[float, float] | None:
    if proc.poll() is not None:
        return None
    try:
        return schedstat(proc.pid)
    except OSError:
        return None


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


@dataclass
class RunningServer:
    server: Server
    proc: subprocess.Popen
    port: int
    stderr_path: Path
    stats_path: Path | None = None

    def stderr_tail(self) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return " | ".join(text.splitlines()[-3:])

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.stderr_tail()
            raise CellError(
                f"{self.server.label} exited with status {self.proc.returncode}"
                + (f": {tail}" if tail else "")
            )


@dataclass
class Bench:
    """Starts servers and load generators for cells, pinned, through one ProcessGroup."""

    procs: ProcessGroup
    tools: Tools
    pin: bool = field(default_factory=pinning_available)
    startup_timeout: float = 20.0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="uvloop-bench-")))

    def _pinned(self, cpu: int, argv: list[str]) -> list[str]:
        return ["taskset", "-c", str(cpu), *argv] if self.pin else argv

    @contextlib.contextmanager
    def serve(self, server: Server, stats: bool = False) -> Iterator[RunningServer]:
        """A running server on a free port; stopped (and its group killed) on exit."""
        last: Exception | None = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            port = free_port()
            err = self.workdir / f"server-{port}.err"
            stats_path = self.workdir / f"stats-{port}.json" if stats else None
            with err.open("wb") as fh:
                proc = self.procs.popen(
                    self._pinned(SERVER_CPU, server.argv(port, self.tools, stats_path)),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=fh,
                )
            running = RunningServer(server, proc, port, err, stats_path)
            try:
                wait_for_port(port, timeout=self.startup_timeout, proc=proc)
            except (RuntimeError, TimeoutError) as exc:
                self.procs.stop(proc)
                tail = running.stderr_tail()
                last = CellError(f"{server.label} did not start: {tail or exc}")
                if "cannot listen" in tail:
                    continue
                raise last from exc
            try:
                yield running
            finally:
                self.procs.stop(proc)
            return
        assert last is not None
        raise last

    def load(
        self, running: RunningServer, load: Load, clients: Sequence[int] = (CLIENT_CPU,)
    ) -> dict[str, Any]:
        """One echoload run against ``running`` (one process per CPU in ``clients``, the
        connections split between them); adds the server's CPU use in the window."""
        running.check_alive()
        n = len(clients)
        server_pid = running.proc.pid  # taskset execs the server: the same pid
        shares = [load.connections // n + (i < load.connections % n) for i in range(n)]
        procs = [
            self.procs.popen(
                self._pinned(
                    cpu, replace(load, connections=c).argv(self.tools, running.port, server_pid)
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for cpu, c in zip(clients, shares, strict=True)
        ]
        outputs: list[tuple[str, str]] = []
        try:
            time.sleep(load.warmup)
            before = _sched_or_none(running.proc)
            for proc in procs:
                try:
                    outputs.append(proc.communicate(timeout=load.warmup + load.duration + 60))
                except subprocess.TimeoutExpired as exc:
                    raise CellError(
                        f"echoload did not finish against {running.server.label}"
                    ) from exc
            after = _sched_or_none(running.proc)
        finally:
            for proc in procs:
                self.procs.stop(proc)
        for proc, (_out, err) in zip(procs, outputs, strict=True):
            if proc.returncode != 0:
                running.check_alive()
                raise CellError(err.strip() or f"echoload exited with status {proc.returncode}")
        parts: list[dict[str, Any]] = [json.loads(out) for out, _err in outputs]
        result = parts[0] if n == 1 else _combine(parts)
        running.check_alive()
        server = result.get("server")  # echoload --server-pid: exactly its measured window
        if server and server.get("cpu_s") is not None:
            server_cpu, server_wait = server["cpu_s"], server.get("runqueue_wait_s")
        elif before is not None and after is not None:  # sampled around the window
            server_cpu, server_wait = after[0] - before[0], after[1] - before[1]
        else:
            return result
        result["server_cpu_s"] = server_cpu
        result["server_cpu_cores"] = server_cpu / result["seconds"]
        if server_wait is not None:
            result["server_runqueue_share"] = server_wait / result["seconds"]
        if result["requests"]:
            result["server_cpu_us_per_req"] = 1e6 * server_cpu / result["requests"]
        if load.sampled > 0:
            result |= self.sample_user_cpu(running, replace(load, duration=load.sampled))
        return result

    def sample_user_cpu(self, running: RunningServer, load: Load) -> dict[str, Any]:
        """One more window of ``load`` with perf sampling the server: its user-space CPU per
        request (``server_user_us_per_req``) and the sampled split (``user_cpu``)."""
        data = self.workdir / f"perf-{running.port}.data"
        err = self.workdir / f"perf-{running.port}.err"
        try:
            with (
                err.open("wb") as log,
                usercpu.recording(self.procs, running.proc.pid, data, log) as enabled,
            ):
                run = self.load(running, replace(load, sampled=0.0))
            window = run["window_monotonic_ns"]
            got = usercpu.split(
                usercpu.samples(data), (window["from"], window["to"]), run["server_cpu_s"], enabled
            )
        except (usercpu.PerfError, KeyError) as exc:
            tail = err.read_text(errors="replace").strip()[-300:] if err.is_file() else ""
            raise CellError(
                f"sampling {running.server.label}'s user-space CPU failed: {exc}"
                + (f" (perf: {tail})" if tail else "")
            ) from None
        finally:
            data.unlink(missing_ok=True)
        return {
            "server_user_us_per_req": 1e6 * got.user_s / run["requests"],
            "user_cpu": {
                "seconds": run["seconds"],
                "requests": run["requests"],
                "user_samples": got.user_samples,
                "kernel_samples": got.kernel_samples,
                "period_ns": usercpu.PERIOD_NS,
                "server_cpu_s": run["server_cpu_s"],
                "problems": run_problems(run),
            },
        }

    def pyclient(
        self, running: RunningServer, size: int, messages: int, workers: int = 3
    ) -> dict[str, Any]:
        """The original's client (blocking sockets in processes), pinned to the load CPU."""
        python = running.server.python
        assert python is not None
        argv = [python, str(PYCLIENT_PY), "--port", str(running.port), "--size", str(size)]
        argv += ["--messages", str(messages), "--workers", str(workers)]
        result = self.procs.run(
            self._pinned(CLIENT_CPU, argv),
            timeout=300,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if result.returncode != 0:
            raise CellError(result.stderr.strip() or f"pyclient exited {result.returncode}")
        return json.loads(result.stdout)


#: A client thread using this share of a core or more was the bottleneck: the run is invalid.
CLIENT_SATURATED_CORES = 0.85
#: A client waiting this share of the window in the run queue was starved: the run is invalid.
CLIENT_STARVED_SHARE = 0.10
#: A window whose client or server was starved (the machine was busy elsewhere) is measured
#: again after these pauses (seconds; a disturbance lasting a few windows passes); a window
#: still starved after the last one stays, and the run fails on it.
STARVED_PAUSES = (2.0, 5.0, 15.0)
STARVED_RETRIES = len(STARVED_PAUSES)
#: A server at least this busy is saturated (its CPU per request is the loop's cost).
SERVER_SATURATED_CORES = 0.95


def client_threads(run: dict[str, Any]) -> list[dict[str, float | None]]:
    """Per echoload thread: CPU seconds and run-queue wait seconds in the window (wait None
    when this echoload does not report it)."""
    threads = run.get("threads")
    if isinstance(threads, list) and threads:
        return [
            {"cpu_s": t.get("cpu_s"), "runqueue_wait_s": t.get("runqueue_wait_s")} for t in threads
        ]
    cpu = run.get("cpu") or {}
    return [{"cpu_s": cpu.get("user_s", 0) + cpu.get("sys_s", 0), "runqueue_wait_s": None}]


def run_problems(run: dict[str, Any]) -> list[str]:
    """Why a run's figures do not measure the server (empty: they do)."""
    seconds = run.get("seconds") or 0
    out = []
    if not run.get("requests"):
        out.append("no request completed")
    if seconds <= 0:
        return [*out, "no measured window"]
    for i, t in enumerate(client_threads(run)):
        cores = (t["cpu_s"] or 0) / seconds
        if cores >= CLIENT_SATURATED_CORES:
            out.append(f"client thread {i} saturated ({cores:.2f} cores)")
        wait = t["runqueue_wait_s"]
        if wait is not None and wait / seconds >= CLIENT_STARVED_SHARE:
            out.append(f"client thread {i} starved ({wait / seconds:.0%} of the window waiting)")
    server_wait = run.get("server_runqueue_share")
    if server_wait is not None and server_wait >= CLIENT_STARVED_SHARE:
        out.append(f"server starved ({server_wait:.0%} of the window waiting for its CPU)")
    return out


def _combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several echoload processes that ran at the same time."""
    out = dict(parts[0])
    out["clients"] = len(parts)
    for k in ("requests", "bytes", "req_per_s", "mb_per_s"):
        if all(k in p for p in parts):
            out[k] = sum(p[k] for p in parts)
    out["seconds"] = max(p["seconds"] for p in parts)
    out["threads"] = [t for p in parts for t in client_threads(p)]
    lat = [p.get("latency_us") or {} for p in parts]
    out["latency_us"] = {q: max(x.get(q, 0) for x in lat) for q in lat[0]}  # the worst client
    out.pop("server", None)  # each client's own window: sampled around them instead
    return out


#: A cell counts (its figures enter ratios and verdicts) when at least this share of its windows
#: is valid; only its valid windows enter its medians and its paired ratios. One disturbed
#: window of ten no longer removes a cell, and a cell that was client-bound or unsaturated in
#: most windows still leaves every figure.
MIN_VALID_SHARE = 0.7


def window_problems(run: dict[str, Any], saturate: bool) -> list[str]:
    """run_problems, and for a server that should be saturated, a core less than
    SERVER_SATURATED_CORES busy."""
    out = run_problems(run)
    out += [f"sampled window: {p}" for p in (run.get("user_cpu") or {}).get("problems", [])]
    busy = run.get("server_cpu_cores")
    if saturate and (busy is None or busy < SERVER_SATURATED_CORES):
        out.append(
            "server not saturated"
            + (f" ({busy:.2f} cores)" if busy is not None else " (its CPU was not sampled)")
        )
    return out


@dataclass
class Cell:
    """The outcome of one cell: its key, the runs, and medians with min-max over its valid
    windows. ``saturate``: its server must be saturated (a Python server in the saturation or
    HTTP section driven in closed loop), so a window where it was not is invalid."""

    key: dict[str, Any]
    ok: bool = True
    error: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    saturate: bool = False

    def summarize(self) -> None:
        if not self.runs:
            return
        for r in self.runs:
            r["problems"] = window_problems(r, self.saturate)
            r["valid"] = not r["problems"]
        valid = [r for r in self.runs if r["valid"]]
        pick = {
            "req_per_s": lambda r: r["req_per_s"],
            "mb_per_s": lambda r: r["mb_per_s"],
            "p50_us": lambda r: r["latency_us"]["p50"],
            "p99_us": lambda r: r["latency_us"]["p99"],
            "p999_us": lambda r: r["latency_us"]["p999"],
            "max_us": lambda r: r["latency_us"]["max"],
            "max_gap_us": lambda r: r.get("max_gap_us"),
            "echoload_cores": lambda r: r["cpu"]["cores"],
            "server_cores": lambda r: r.get("server_cpu_cores"),
            "server_cpu_us_per_req": lambda r: r.get("server_cpu_us_per_req"),
            "server_runqueue_share": lambda r: r.get("server_runqueue_share"),
            "server_user_us_per_req": lambda r: r.get("server_user_us_per_req"),
        }
        for name, get in pick.items():
            values = [v for v in (get(r) for r in valid or self.runs) if v is not None]
            if values:
                self.stats[name] = spread(values)
        self.extra["windows"] = {"valid": len(valid), "all": len(self.runs)}
        problems = sorted({p for r in self.runs for p in r["problems"]})
        if len(valid) >= max(2, MIN_VALID_SHARE * len(self.runs)):
            self.extra["invalid"] = []
            self.extra["discarded"] = problems  # why the windows left out were invalid
        else:
            self.extra["invalid"] = problems

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["runs"] = [
            {k: r[k] for k in ("req_per_s", "mb_per_s", "requests", "seconds", "round") if k in r}
            # What a glance at the percentiles hides: stalls, and open-loop timeouts.
            | {k: r[k] for k in ("max_gap_us", "stalls", "unfinished_at_end") if k in r}
            | {"latency_us": r.get("latency_us"), "cpu": r.get("cpu")}
            | {
                k: r[k]
                for k in (
                    "server_cpu_us_per_req",
                    "server_cpu_cores",
                    "server_runqueue_share",
                    "server_user_us_per_req",
                    "user_cpu",
                )
                if k in r
            }
            | {"threads": client_threads(r)}
            | {"problems": r.get("problems", []), "valid": r.get("valid", True)}
            for r in self.runs
        ]
        return d


def measure_cell(
    bench: Bench, server: Server, load: Load, reps: int, key: dict[str, Any], stats: bool = False
) -> Cell:
    """``reps`` echoload runs against one server process; failures become a failed cell."""
    cell = Cell(key=key)
    try:
        with bench.serve(server, stats=stats) as running:
            for _ in range(reps):
                cell.runs.append(bench.load(running, load))
            stats_path = running.stats_path
        if stats_path is not None and stats_path.is_file():
            cell.extra["recv_counters"] = json.loads(stats_path.read_text())
    except (CellError, OSError, ValueError) as exc:
        cell.ok = False
        cell.error = str(exc)
    cell.summarize()
    return cell


@dataclass(frozen=True)
class Group:
    """Contenders measured side by side: every repetition runs one window against each, in
    an order that rotates with the repetition, all servers alive for the whole group. Runs of
    the same repetition are paired: their ratios cancel the machine's drift between rounds."""

    section: str
    key: dict[str, Any]
    servers: dict[str, Server]  # contender label -> server
    load: Load
    loads: dict[str, Load] = field(default_factory=dict)  # a contender's own load, if any

    @property
    def label(self) -> str:
        what = " ".join(f"{k}={v}" for k, v in self.key.items())
        return f"{self.section}: {what} c={self.load.connections}"


def _unstarved_window(
    bench: Bench, running: RunningServer, load: Load, cell: Cell, rep: int
) -> dict[str, Any]:
    """One window; a starved one (another process had the CPU) is measured again after each
    of STARVED_PAUSES, and each discarded window is recorded in the cell's "remeasured"."""
    for pause in STARVED_PAUSES:
        run = bench.load(running, load)
        starved = [p for p in run_problems(run) if "starved" in p]
        if not starved:
            return run
        cell.extra.setdefault("remeasured", []).append(f"round {rep + 1}: " + "; ".join(starved))
        time.sleep(pause)
    return bench.load(running, load)


def measure_group(
    bench: Bench,
    group: Group,
    reps: int,
    *,
    on_window: Callable[[str], None] | None = None,
) -> list[Cell]:
    """``reps`` interleaved rounds over ``group``'s contenders; one Cell per contender.

    A contender whose server fails to start or dies gets a failed cell (the others go on);
    a failed window fails its contender's cell and the contender leaves the rotation.
    """
    names = list(group.servers)
    cells = {}
    for n in names:
        srv = group.servers[n]
        about = {"contender": n, "python": srv.python_version, "build": srv.build}
        about |= {"loop": srv.loop, "api": srv.api, "engine": srv.engine}
        # A contender driven at a fixed rate (open loop) says so in its key: its CPU per
        # request is comparable only with others at the same rate.
        about["rate"] = group.loads.get(n, group.load).rate or None
        cells[n] = Cell(
            key=group.key | {k: v for k, v in about.items() if v is not None},
            # A Python server in closed loop is meant to be saturated; the C++ servers and the
            # loops beside them at its fixed rate are not.
            saturate=group.section in ("saturation", "http")
            and srv.engine is None
            and about["rate"] is None,
        )
    with contextlib.ExitStack() as stack:
        running: dict[str, RunningServer] = {}
        for n in names:
            try:
                running[n] = stack.enter_context(bench.serve(group.servers[n]))
            except (CellError, OSError) as exc:
                cells[n].ok, cells[n].error = False, str(exc)
        for rep in range(reps):
            shift = rep % len(names)
            for n in names[shift:] + names[:shift]:
                if not cells[n].ok:
                    continue
                if on_window is not None:
                    on_window(f"{group.label} {n} round {rep + 1}/{reps}")
                try:
                    run = _unstarved_window(bench, running[n], group.loads.get(n, group.load),
                                            cells[n], rep)  # fmt: skip
                except (CellError, OSError, ValueError) as exc:
                    cells[n].ok, cells[n].error = False, str(exc)
                    continue
                run["round"] = rep
                cells[n].runs.append(run)
    for c in cells.values():
        c.summarize()
    return list(cells.values())
