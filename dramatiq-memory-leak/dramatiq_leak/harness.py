"""One cell (scenario x variant): a real ``dramatiq`` worker, sampled from outside.

The worker is the ``dramatiq`` command of the variant's environment, started
through :class:`lab.procs.ProcessGroup`. A sampler thread reads the RSS of the
worker's process tree every 50 ms (psutil, i.e. ``/proc``) and kills the tree
if it passes the memory cap. The probe inside the worker
(:mod:`dramatiq_leak.probe`) writes GC runs, processed messages and the count
of live big exceptions to a file that is read here. At the end every enqueued
message is accounted for: succeeded, still in Redis (queued, delayed, unacked)
or dead-lettered; anything else is reported as lost.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from dramatiq_leak import envs
from dramatiq_leak.envs import Variant
from dramatiq_leak.scenarios import Scenario
from lab.procs import ProcessGroup

MiB = 1 << 20
SAMPLE_INTERVAL = 0.05
BOOT_TIMEOUT = 60.0
# After a worker process dies, how long the dramatiq supervisor gets to log its exit code and
# stop by itself before we stop it (it can hang when the worker died while booting).
SUPERVISOR_GRACE_S = 3.0


@dataclass
class CellConfig:
    scenario: Scenario
    variant: Variant
    mb: int  # MiB per exception
    duration_s: float
    mem_cap_mb: float
    stop_after_attempts: int | None = None  # stop early once this many attempts ran
    max_retries: int | None = None  # None: the actor's (practically infinite)
    queue: str = "leak"
    python: str | None = None  # interpreter of the variant env (default: this one)
    broker: str = "redis"  # redis | rabbitmq (the URL passed to run_cell says which)
    #: burst scenarios: seconds the worker is watched idle after its last message
    idle_s: float = 0.0

    @property
    def name(self) -> str:
        base = f"{self.scenario.key}__{self.variant.key}"
        if self.broker != "redis":
            base += f"__{self.broker}"
        return base if self.python is None else f"{base}__py{envs.python_tag(self.python)}"


@dataclass
class Samples:
    t: list[float] = field(default_factory=list)  # monotonic seconds
    worker_rss: list[int] = field(default_factory=list)  # bytes, worker processes
    tree_rss: list[int] = field(default_factory=list)  # bytes, whole tree incl. supervisor
    cpu_s: list[float] = field(default_factory=list)  # CPU seconds used by the tree so far


class Sampler(threading.Thread):
    """Reads the RSS of ``root``'s process tree every ``interval`` s; enforces the cap."""

    def __init__(self, root: subprocess.Popen, cap_bytes: int, interval: float = SAMPLE_INTERVAL):
        super().__init__(name="rss-sampler", daemon=True)
        self.root = root
        self.cap = cap_bytes
        self.interval = interval
        self.samples = Samples()
        self.capped: dict[str, float] | None = None
        self.cpu: dict[int, float] = {}
        self._halt = threading.Event()
        self._tree: list[psutil.Process] = []
        self._tree_at = 0.0
        self.worker_seen = False
        self._missing = 0
        self.peak_by_pid: dict[int, int] = {}  # worker processes (not the supervisor): peak RSS

    @property
    def worker_gone(self) -> bool:
        """A worker process existed and has been gone for several samples (it died)."""
        return self.worker_seen and self._missing >= 4

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def _processes(self, now: float) -> list[psutil.Process]:
        if now - self._tree_at > 0.5 or len(self._tree) < 2:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(self.root.pid)
                self._tree = [root, *root.children(recursive=True)]
            self._tree_at = now
        return self._tree

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._halt.is_set():
            now = time.monotonic()
            worker = tree = 0
            for i, proc in enumerate(self._processes(now)):
                try:
                    with proc.oneshot():
                        rss = proc.memory_info().rss
                        ct = proc.cpu_times()
                except psutil.Error:
                    self._tree_at = 0.0  # re-scan the tree next time
                    continue
                self.cpu[proc.pid] = ct.user + ct.system
                tree += rss
                if i > 0:  # not the supervisor (the `dramatiq` main process)
                    worker += rss
                    self.peak_by_pid[proc.pid] = max(rss, self.peak_by_pid.get(proc.pid, 0))
            if worker:
                self.worker_seen = True
                self._missing = 0
            elif self.worker_seen:
                self._missing += 1
                self._tree_at = 0.0
            if worker:  # the worker process exists (not just the supervisor)
                self.samples.t.append(now)
                self.samples.worker_rss.append(worker)
                self.samples.tree_rss.append(tree)
                self.samples.cpu_s.append(sum(self.cpu.values()))
            if tree > self.cap and self.capped is None:
                self.capped = {"t": now, "rss_mb": tree / MiB}
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.root.pid, signal.SIGKILL)
                return
            next_at += self.interval
            self._halt.wait(max(0.0, next_at - time.monotonic()))


class ProbeReader:
    """Reads the probe's JSON-lines file incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = ""
        self.events: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            f.seek(self._offset)
            chunk = f.read()
            self._offset = f.tell()
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        new = [json.loads(line) for line in lines if line.strip()]
        self.events.extend(new)
        return new

    def first(self, ev: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e["ev"] == ev), None)

    def last(self, ev: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e["ev"] == ev), None)


def client(
    procs: ProcessGroup, python: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> dict[str, Any]:
    """Run ``python -m dramatiq_leak.client ARGS`` in a variant env; its JSON output."""
    res = procs.run(
        [str(python), "-m", "dramatiq_leak.client", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    if res.returncode != 0:
        raise RuntimeError(f"client {' '.join(args)} failed: {res.stderr.strip()[-1500:]}")
    return json.loads(res.stdout)


def messages_for(cfg: CellConfig) -> int:
    sc = cfg.scenario
    if sc.actor == "sleep_async":  # enough work for the whole cell; the rest stays queued
        return math.ceil(cfg.duration_s * 1000 / sc.sleep_ms) + 5
    return sc.messages


def start_worker(
    procs: ProcessGroup,
    python: Path,
    env: dict[str, str],
    threads: int,
    queue: str,
    worker_log: Path,
    supervisor_log: Path,
    processes: int = 1,
) -> subprocess.Popen:
    """The ``dramatiq`` command (dramatiq.cli.main) with ``processes`` worker processes of
    ``threads`` threads on ``queue``, its output in ``worker_log`` and the supervisor's own log
    records in ``supervisor_log`` (see supervise.py)."""
    supervisor_log.unlink(missing_ok=True)
    env = {**env, "DLEAK_SUPERVISOR_LOG": str(supervisor_log)}
    with open(worker_log, "wb") as logf:
        return procs.popen(
            [
                str(python), "-m", "dramatiq_leak.supervise", "dramatiq_leak.worker_app",
                "--processes", str(processes), "--threads", str(threads), "--queues", queue,
            ],
            env=env, stdout=logf, stderr=subprocess.STDOUT,
        )  # fmt: skip


def run_cell(
    procs: ProcessGroup, redis_url: str, cfg: CellConfig, workdir: Path, log=print
) -> dict[str, Any]:
    """Run one cell; returns raw data (samples, probe events, accounting, outcome)."""
    python = envs.ensure_env(cfg.variant.dramatiq, cfg.python, log=log)
    workdir.mkdir(parents=True, exist_ok=True)
    probe_path = workdir / f"{cfg.name}.probe.jsonl"
    probe_path.unlink(missing_ok=True)
    env = envs.child_env(cfg.variant, redis_url, cfg.queue, str(probe_path))

    options: dict[str, Any] = {}
    if cfg.max_retries is not None:
        options["max_retries"] = cfg.max_retries
    sent = client(
        procs,
        python,
        env,
        "enqueue",
        cfg.scenario.actor,
        "--args",
        json.dumps(cfg.scenario.args(cfg.mb)),
        "--count",
        str(messages_for(cfg)),
        "--options",
        json.dumps(options),
        "--flush",
    )
    enqueued: list[str] = sent["ids"]

    worker_log = workdir / f"{cfg.name}.worker.log"
    supervisor_log = workdir / f"{cfg.name}.supervisor.log"
    proc = start_worker(
        procs, python, env, cfg.scenario.threads, cfg.queue, worker_log, supervisor_log,
        processes=cfg.scenario.processes,
    )  # fmt: skip
    sampler = Sampler(proc, int(cfg.mem_cap_mb * MiB))
    sampler.start()
    reader = ProbeReader(probe_path)
    started = time.monotonic()
    crashed: dict[str, Any] | None = None
    boot: dict[str, Any] | None = None
    stop_reason = "duration"
    burst_done: float | None = None  # burst scenarios: when the last message was processed

    def trouble(phase: str) -> tuple[str, dict[str, Any] | None] | None:
        """Why the cell must stop now (memory cap, dead worker), or None."""
        if sampler.capped is not None:
            return "memory cap", None
        if proc.poll() is not None or sampler.worker_gone:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=SUPERVISOR_GRACE_S)
            return "crashed", {"returncode": proc.poll(), "phase": phase}
        return None

    try:
        while boot is None:
            reader.poll()
            boot = reader.first("boot")
            if (bad := trouble("boot")) is not None:
                stop_reason, crashed = bad
                break
            if time.monotonic() - started > BOOT_TIMEOUT:
                raise TimeoutError(f"{cfg.name}: worker did not boot in {BOOT_TIMEOUT:.0f} s")
            time.sleep(0.05)
        t0 = boot["t"] if boot else started
        deadline = t0 + cfg.duration_s
        while boot is not None and stop_reason == "duration":
            reader.poll()
            if (bad := trouble("run")) is not None:
                stop_reason, crashed = bad
                break
            tick = reader.last("tick")
            if (
                cfg.scenario.burst
                and burst_done is None
                and tick is not None
                and tick["attempts"] >= messages_for(cfg)
            ):
                burst_done = tick["t"]
            if burst_done is not None and time.monotonic() >= burst_done + cfg.idle_s:
                stop_reason = "idle watched"
                break
            if (
                cfg.stop_after_attempts is not None
                and tick is not None
                and tick["attempts"] >= cfg.stop_after_attempts
            ):
                stop_reason = "attempts reached"
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        stopped_at = time.monotonic()
    finally:
        _stop_worker(procs, proc)
        sampler.stop()
    reader.poll()
    if crashed is None and sampler.capped is None and proc.returncode not in (0, None):
        # dramatiq exits 0 on SIGTERM; anything else means a worker died on its way out.
        crashed = {"returncode": proc.returncode, "phase": "shutdown"}
    if crashed is not None:
        crashed["log_tail"] = _tail(worker_log)
        if crashed["returncode"] is None:
            crashed["returncode"] = proc.returncode  # after our stop: how the supervisor ended
        crashed["worker_exit_code"] = worker_exit_code(supervisor_log, worker_log)

    states = client(procs, python, env, "account")["states"]
    succeeded = {e["id"] for e in reader.events if e["ev"] == "msg" and e["ok"]}
    accounting = account(enqueued, states, succeeded)
    return {
        "config": cfg,
        "t0": t0,
        "stopped_at": stopped_at,
        "stop_reason": stop_reason,
        "samples": sampler.samples,
        "cpu_s": sum(sampler.cpu.values()),
        "events": reader.events,
        "capped": sampler.capped,
        "crashed": crashed,
        "accounting": accounting,
        "boot": boot,
        "burst_done": burst_done,
        "peak_by_pid": dict(sampler.peak_by_pid),
    }


EXIT_LINE = re.compile(r"exited unexpectedly \(code (-?\d+)\)")


def worker_exit_code(*logs: Path) -> int | None:
    """The worker process's own exit status as dramatiq's supervisor logged it (negative: the
    signal that killed it), from the first log that has it; None if none does."""
    for path in logs:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if found := EXIT_LINE.findall(text):
            return int(found[-1])
    return None


def describe_crash(crashed: dict[str, Any]) -> str:
    """``worker process killed by signal 9 (SIGKILL)``, or what is known of the exit."""
    code = crashed.get("worker_exit_code")
    if code is None:
        return (
            "worker process exit status unknown (the dramatiq supervisor exited with "
            f"{crashed.get('returncode')})"
        )
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"worker process killed by signal {-code} ({name})"
    return f"worker process exited with code {code}"


def _stop_worker(procs: ProcessGroup, proc: subprocess.Popen, grace: float = 20.0) -> None:
    """Graceful stop: SIGTERM to the dramatiq main process only (it forwards it once to its
    workers; a second SIGTERM makes a worker process "kill" itself uncleanly), then the
    whole group is killed if anything is left."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    procs.stop(proc, grace=1.0)


def account(enqueued: list[str], states: dict[str, str], succeeded: set[str]) -> dict[str, Any]:
    """Classify every enqueued message; ``lost`` must be 0."""
    counts = {
        "enqueued": len(enqueued),
        "succeeded": 0,
        "dead_lettered": 0,
        "queued": 0,
        "delayed": 0,
        "unacked": 0,
        "lost": 0,
        "unexpected": 0,
    }
    lost: list[str] = []
    for mid in enqueued:
        state = states.get(mid)
        if state is None:
            state = "succeeded" if mid in succeeded else "lost"
        elif mid in succeeded:
            state = "unexpected"  # succeeded yet still in Redis
        if state not in counts:
            state = "unexpected"
        counts[state] += 1
        if state in ("lost", "unexpected"):
            lost.append(mid)
    counts["still_queued"] = counts["queued"] + counts["delayed"] + counts["unacked"]
    counts["problem_ids"] = lost[:20]
    counts["ok"] = counts["lost"] == 0 and counts["unexpected"] == 0
    return counts


def _tail(path: Path, lines: int = 15) -> str:
    try:
        data = path.read_bytes()[-8000:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
