"""Delivery under crashes: a worker killed with SIGKILL mid-run, another started, every message
accounted for.

One crash cell:

1. ``messages`` messages to the ``work`` actor (``ms`` of work each; every ``fail_every``-th
   fails by design and, without retries, goes to the dead-letter queue), so the expected
   outcome of each is known before anything runs;
2. worker A (``threads`` threads) starts; once it has processed ``kill_after`` messages its
   worker process is killed with SIGKILL (its supervisor then stops), and the worker's own
   exit status is read from the supervisor's log;
3. right after the kill, the messages A held unacknowledged are listed from Redis;
4. worker B starts; the broker's maintenance (run on every command here) gives the dead
   worker's unacknowledged messages back to the queue once A's heartbeat is older than
   ``heartbeat_ms``; B runs until nothing is left but dead letters;
5. every message must have succeeded (in A or B), or be a dead letter that was meant to fail;
   every message A held when it died must have been delivered again. A message A finished
   but had not acknowledged is processed twice (at-least-once delivery): counted, not an error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from dramatiq_leak import envs, harness
from lab.procs import ProcessGroup


@dataclass(frozen=True)
class CrashPlan:
    messages: int = 1000
    fail_every: int = 20  # message i fails when i % fail_every == 0 (dead-lettered)
    ms: int = 5  # work per message
    threads: int = 4
    kill_after: int = 300  # messages processed by worker A before it is killed
    heartbeat_ms: int = 3000  # the broker's heartbeat timeout: redelivery after this
    timeout_s: float = 120.0


QUICK = CrashPlan(messages=300, kill_after=100)
FULL = CrashPlan()
QUEUE = "crash"


def _wait(what: str, until: Any, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the worker exited early ({proc.returncode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.05)


def _worker_process(supervisor: subprocess.Popen) -> psutil.Process:
    """The dramatiq worker process (the supervisor's child that imported the app)."""
    kids = psutil.Process(supervisor.pid).children(recursive=True)
    workers = [k for k in kids if "dramatiq_leak.worker_app" in " ".join(k.cmdline())]
    if len(workers) != 1:
        raise RuntimeError(f"expected one worker process under {supervisor.pid}, found {kids}")
    return workers[0]


def run_crash_cell(
    procs: ProcessGroup,
    redis_url: str,
    variant_key: str,
    workdir: Path,
    plan: CrashPlan = FULL,
    python: str | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """One crash cell (see the module docstring); raw figures, judged by :func:`crash_errors`."""
    variant = envs.variant(variant_key)
    py = envs.ensure_env(variant.dramatiq, python, log=log)
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"crash__{variant.key}" + ("" if python is None else f"__py{envs.python_tag(python)}")
    ledgers = [workdir / f"{name}.{w}.ledger.jsonl" for w in "AB"]
    for p in ledgers:
        p.unlink(missing_ok=True)
    env = envs.child_env(variant, redis_url, QUEUE, None)
    env.update(DLEAK_HEARTBEAT_MS=str(plan.heartbeat_ms), DLEAK_MAINTENANCE_CHANCE="1000000")
    sent = harness.client(
        procs, py, env, "enqueue", "work",
        "--args", json.dumps([plan.fail_every, plan.ms]), "--count", str(plan.messages),
        "--options", json.dumps({"max_retries": 0}), "--numbered", "--flush",
        timeout=120,
    )  # fmt: skip
    ids: list[str] = sent["ids"]
    meant_to_fail = {
        mid for i, mid in enumerate(ids) if plan.fail_every and i % plan.fail_every == 0
    }

    def start(which: int) -> tuple[subprocess.Popen, harness.ProbeReader]:
        # The ledger, not the probe file: it has every message the worker acknowledged.
        tag = "AB"[which]
        proc = harness.start_worker(
            procs, py, {**env, "DLEAK_LEDGER": str(ledgers[which])}, plan.threads, QUEUE,
            workdir / f"{name}.{tag}.worker.log", workdir / f"{name}.{tag}.supervisor.log",
        )  # fmt: skip
        return proc, harness.ProbeReader(ledgers[which])

    def processed(reader: harness.ProbeReader) -> list[dict[str, Any]]:
        reader.poll()
        return [e for e in reader.events if e["ev"] == "msg"]

    started = time.monotonic()
    a, reader_a = start(0)
    try:
        _wait("worker A", lambda: len(processed(reader_a)) >= plan.kill_after, plan.timeout_s, a)
        victim = _worker_process(a)
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            a.wait(timeout=harness.SUPERVISOR_GRACE_S + 5)
    finally:
        harness._stop_worker(procs, a)
    done_a = processed(reader_a)
    exit_code = harness.worker_exit_code(
        workdir / f"{name}.A.supervisor.log", workdir / f"{name}.A.worker.log"
    )
    after_kill = harness.client(procs, py, env, "account", timeout=120)["states"]
    held = sorted(m for m, s in after_kill.items() if s == "unacked")

    b, reader_b = start(1)
    try:

        def drained() -> bool:
            if len(processed(reader_b)) + len(done_a) < plan.messages - len(held):
                return False  # not even the messages A never took are done yet
            states = harness.client(procs, py, env, "account", timeout=120)["states"]
            return all(s == "dead_lettered" for s in states.values())

        try:
            _wait("worker B", drained, plan.timeout_s, b)
        except TimeoutError as exc:
            left = harness.client(procs, py, env, "account", timeout=120)["states"]
            counts: dict[str, int] = {}
            for state in left.values():
                counts[state] = counts.get(state, 0) + 1
            raise TimeoutError(
                f"{exc}; still in Redis: {counts}; held by A at the kill: {len(held)}; "
                f"processed by A {len(done_a)}, by B {len(processed(reader_b))}"
            ) from None
    finally:
        harness._stop_worker(procs, b)
    done_b = processed(reader_b)
    final = harness.client(procs, py, env, "account", timeout=120)["states"]
    ok_a = {e["id"] for e in done_a if e["ok"]}
    ok_b = {e["id"] for e in done_b if e["ok"]}
    acc = harness.account(ids, final, ok_a | ok_b)
    dead = {m for m, s in final.items() if s == "dead_lettered"}
    redelivered = [m for m in held if m in ok_b or m in dead]
    seen_b = {e["id"] for e in done_b}
    return {
        "variant": variant.key,
        "python_tag": None if python is None else f"py{envs.python_tag(python)}",
        "plan": plan.__dict__,
        "seconds": round(time.monotonic() - started, 1),
        "killed_after_s": round(killed_at - started, 1),
        "processed_by_a": len(done_a),
        "processed_by_b": len(done_b),
        "worker_exit_code": exit_code,
        "held_at_kill": len(held),
        "redelivered": len(redelivered),
        "processed_twice": len({e["id"] for e in done_a} & seen_b),
        "meant_to_fail": len(meant_to_fail),
        "dead_lettered_as_meant": dead == meant_to_fail,
        "wrongly_dead": sorted(dead - meant_to_fail)[:10],
        "accounting": acc,
    }


def crash_errors(cell: dict[str, Any]) -> list[str]:
    """Why a crash cell does not prove delivery (empty when it does)."""
    where = f"crash / {cell.get('variant')}" + (
        f" / {cell['python_tag']}" if cell.get("python_tag") else ""
    )
    if "error" in cell:
        return [f"{where}: failed: {cell['error']}"]
    out = []
    acc = cell["accounting"]
    if not acc["ok"] or acc["still_queued"]:
        out.append(
            f"{where}: messages lost {acc['lost']}, unexpected {acc['unexpected']}, "
            f"still queued {acc['still_queued']} (ids {acc['problem_ids'][:5]})"
        )
    if not cell["dead_lettered_as_meant"]:
        out.append(f"{where}: dead letters differ from the messages meant to fail "
                   f"({cell['wrongly_dead']})")  # fmt: skip
    if cell["worker_exit_code"] != -signal.SIGKILL:
        out.append(f"{where}: the killed worker's exit status is {cell['worker_exit_code']}, "
                   "not SIGKILL (the kill did not happen as planned)")  # fmt: skip
    if cell["redelivered"] != cell["held_at_kill"]:
        out.append(f"{where}: {cell['held_at_kill']} messages held by the killed worker, "
                   f"{cell['redelivered']} delivered again")  # fmt: skip
    if cell["accounting"]["enqueued"] < cell["plan"]["messages"]:
        out.append(f"{where}: {cell['accounting']['enqueued']} enqueued, not "
                   f"{cell['plan']['messages']}")  # fmt: skip
    return out


if __name__ == "__main__":  # a manual run: python -m dramatiq_leak.crash [variant]
    import sys
    import tempfile

    from dramatiq_leak.redis_server import RedisServer

    with ProcessGroup() as group, RedisServer(group) as redis, tempfile.TemporaryDirectory() as d:
        res = run_crash_cell(group, redis.url, sys.argv[1] if len(sys.argv) > 1 else "2.2.1",
                             Path(d), QUICK if os.environ.get("QUICK") else FULL)  # fmt: skip
        print(json.dumps(res, indent=2))
        print("\n".join(crash_errors(res)) or "every message accounted for")
