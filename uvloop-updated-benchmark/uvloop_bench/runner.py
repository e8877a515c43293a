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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.procs import ProcessGroup, free_port, wait_for_port

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
    engine: str | None = None  # epoll | io_uring

    @property
    def label(self) -> str:
        if self.engine:
            return f"C++ {self.engine}"
        return f"Python {self.python_version} {self.loop} {self.api}"

    def argv(self, port: int, tools: Tools, stats: Path | None = None) -> list[str]:
        if self.engine:
            return [str(tools.echoserver), "--engine", self.engine, "--port", str(port)]
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

    def argv(self, tools: Tools, port: int) -> list[str]:
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
            "--json",
        ]  # fmt: skip


def pinning_available() -> bool:
    """Whether CPUs 0 and 1 both exist for this process (server on 0, load on 1)."""
    try:
        return {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)
    except AttributeError:  # pragma: no cover - not Linux
        return False


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, all its threads, in seconds.

    Summed from /proc/<pid>/task/*/schedstat (nanoseconds on CPU), which resolves the
    short windows of quick mode; /proc/<pid>/stat (clock ticks, 10 ms) is the fallback.
    """
    total_ns = 0
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(FileNotFoundError, ProcessLookupError),
                open(f"{task.path}/schedstat") as fh,
            ):
                total_ns += int(fh.read().split()[0])
        if total_ns:
            return total_ns / 1e9
    except FileNotFoundError:
        raise
    except OSError:
        pass
    with open(f"/proc/{pid}/stat") as fh:
        stat = fh.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # fields 14 and 15 of proc(5)


def _cpu_or_none(proc: subprocess.Popen) -> float | None:
    if proc.poll() is not None:
        return None
    try:
        return cpu_seconds(proc.pid)
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

    def load(self, running: RunningServer, load: Load) -> dict[str, Any]:
        """One echoload run against ``running``; adds the server's CPU use in the window."""
        running.check_alive()
        proc = self.procs.popen(
            self._pinned(CLIENT_CPU, load.argv(self.tools, running.port)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(load.warmup)
            cpu0 = _cpu_or_none(running.proc)
            try:
                out, err = proc.communicate(timeout=load.warmup + load.duration + 60)
            except subprocess.TimeoutExpired as exc:
                raise CellError(f"echoload did not finish against {running.server.label}") from exc
            cpu1 = _cpu_or_none(running.proc)
        finally:
            self.procs.stop(proc)
        if proc.returncode != 0:
            running.check_alive()
            raise CellError(err.strip() or f"echoload exited with status {proc.returncode}")
        result = json.loads(out)
        running.check_alive()
        if cpu0 is not None and cpu1 is not None:
            server_cpu = cpu1 - cpu0
            result["server_cpu_s"] = server_cpu
            result["server_cpu_cores"] = server_cpu / result["seconds"]
            if result["requests"]:
                result["server_cpu_us_per_req"] = 1e6 * server_cpu / result["requests"]
        return result

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


@dataclass
class Cell:
    """The outcome of one cell: its key, the runs, and medians with min-max."""

    key: dict[str, Any]
    ok: bool = True
    error: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def summarize(self) -> None:
        if not self.runs:
            return
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
        }
        for name, get in pick.items():
            values = [v for v in (get(r) for r in self.runs) if v is not None]
            if values:
                self.stats[name] = spread(values)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["runs"] = [
            {k: r[k] for k in ("req_per_s", "mb_per_s", "requests", "seconds") if k in r}
            # What a glance at the percentiles hides: stalls, and open-loop timeouts.
            | {k: r[k] for k in ("max_gap_us", "stalls", "unfinished_at_end") if k in r}
            | {"latency_us": r.get("latency_us"), "cpu": r.get("cpu")}
            | {k: r[k] for k in ("server_cpu_us_per_req", "server_cpu_cores") if k in r}
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
