"""Delivery under crashes (dramatiq_leak.crash): a real worker killed with SIGKILL mid-run on a
real Redis, a second worker, every message accounted for; and what makes a cell fail."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from dramatiq_leak import crash, report
from dramatiq_leak.redis_server import RedisServer

from lab.procs import ProcessGroup


@pytest.fixture(scope="module")
def killed_cell(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("crash")
    with ProcessGroup() as procs, RedisServer(procs) as redis:
        return crash.run_crash_cell(
            procs, redis.url, "2.2.1", work, crash.QUICK, log=lambda m: None
        )


def test_a_killed_worker_loses_no_message(killed_cell: dict[str, Any]) -> None:
    c = killed_cell
    assert crash.crash_errors(c) == []
    assert c["worker_exit_code"] == -9  # the worker's own status, read from the supervisor
    assert c["processed_by_a"] >= crash.QUICK.kill_after
    assert c["processed_by_b"] > 0
    acc = c["accounting"]
    assert acc["enqueued"] == crash.QUICK.messages
    assert acc["dead_lettered"] == c["meant_to_fail"] == crash.QUICK.messages // 20
    assert acc["succeeded"] + acc["dead_lettered"] == acc["enqueued"]
    assert c["redelivered"] == c["held_at_kill"]
    table = report.crash_section({"crash": [c]})
    assert "then SIGKILL (worker process killed by signal 9 (SIGKILL))" in table
    (v,) = report.crash_verdicts({"crash": [c]})
    assert v["answer"] == "holds"


def _broken(cell: dict[str, Any], **change: Any) -> dict[str, Any]:
    c = copy.deepcopy(cell)
    for key, value in change.items():
        if key in c["accounting"]:
            c["accounting"][key] = value
        else:
            c[key] = value
    return c


def test_every_way_a_crash_cell_can_go_wrong_is_an_error(killed_cell: dict[str, Any]) -> None:
    cases = {
        "lost": _broken(killed_cell, lost=1, ok=False),
        "still queued": _broken(killed_cell, still_queued=2),
        "dead letters differ": _broken(killed_cell, dead_lettered_as_meant=False),
        "not SIGKILL": _broken(killed_cell, worker_exit_code=1),
        "delivered again": _broken(killed_cell, redelivered=killed_cell["held_at_kill"] - 1),
        "failed": {"variant": "2.2.1", "python_tag": None, "error": "worker B: not within 120 s"},
    }
    for needle, cell in cases.items():
        errors = crash.crash_errors(cell)
        assert errors and needle in errors[0], (needle, errors)
        verdicts = report.crash_verdicts({"crash": [cell]})
        assert all(v["answer"] != "holds" for v in verdicts), needle


def test_crash_plans_meet_the_issue() -> None:
    assert crash.FULL.messages >= 1000  # issue 16: crash cells of at least 1,000 messages
    assert 0 < crash.FULL.kill_after < crash.FULL.messages
    assert dataclasses.replace(crash.QUICK, messages=10).messages == 10


def test_the_ledger_is_written_before_the_ack(tmp_path: Path) -> None:
    # In a variant's environment (dramatiq is not in the lab's): one after_process_message
    # call puts the outcome on disk at once, with no flusher thread running.
    import subprocess

    from dramatiq_leak import envs

    ledger = tmp_path / "ledger.jsonl"
    code = (
        "from dramatiq_leak.probe import Probe\n"
        "class Msg: message_id = 'm1'\n"
        f"p = Probe(None, ledger={str(ledger)!r})\n"
        "p.after_process_message(None, Msg(), exception=ValueError('x'))\n"
        "import os; os._exit(0)  # no clean shutdown: what is on disk is what was written\n"
    )
    env = envs.child_env(envs.variant("2.2.1"), "redis://127.0.0.1:1/0", "q", None)
    subprocess.run([str(envs.ensure_env("2.2.1")), "-c", code], env=env, check=True)
    assert '"id": "m1", "ok": false' in ledger.read_text()
