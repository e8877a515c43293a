"""The CLI under trouble: Ctrl-C leaves nothing behind, a killed worker fails the run with its own
exit status, a missing redis-server is one line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_dleak_ctrl_c_stops_redis_and_workers(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "dramatiq_leak", "run", "--quick",
            "--scenario", "async-sleep", "--variant", "2.2.1", "--out", str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        seen: dict[int, str] = {}
        deadline = time.monotonic() + 90
        # wait until both a redis-server and a dramatiq worker run under the CLI
        while time.monotonic() < deadline:
            for child in _descendants(proc.pid):
                with contextlib.suppress(psutil.Error):
                    seen[child.pid] = " ".join(child.cmdline())
            names = " ".join(seen.values())
            if "redis-server" in names and "dramatiq_leak.worker_app" in names:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            raise AssertionError(f"no worker seen within 90 s: {seen}")
        os.kill(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends to the foreground
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err.decode()[-2000:]
        assert b"interrupted" in err
        alive = []
        for pid, cmd in seen.items():
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(cmd)
            except psutil.NoSuchProcess:
                pass
        assert alive == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _worker_process(cli_pid: int) -> psutil.Process | None:
    """The dramatiq worker process: forked by the supervisor, so its parent runs it too."""
    for child in _descendants(cli_pid):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(child.cmdline())
            if "dramatiq_leak.supervise" in cmd and "dramatiq_leak.supervise" in " ".join(
                child.parent().cmdline()
            ):
                return child
    return None


def test_dleak_kill_9_of_the_worker_is_reported_with_its_signal_and_fails_the_run(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "dramatiq_leak", "run", "--quick",
            "--scenario", "async-raise", "--variant", "2.2.1", "--out", str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while (worker := _worker_process(proc.pid)) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no worker process within 120 s"
            time.sleep(0.05)
        time.sleep(1.5)  # booted (the quick cell runs 8 s), not still starting up
        worker.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        said = "worker crashed: worker process killed by signal 9 (SIGKILL)"
        assert f"async-raise / 2.2.1: {said}" in out, out[-2000:]
        assert f"dramatiq-leak: error: async-raise / 2.2.1: {said}" in err, err[-2000:]
        assert proc.returncode == 1
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_dleak_missing_redis_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    for command in ("run", "proof"):
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "dramatiq_leak",
                command,
                *(["--out", str(tmp_path)] * (command == "run")),
            ],
            env={**os.environ, "PATH": "/nonexistent"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 1, res.stderr
        assert res.stderr.strip().splitlines() == [
            "dramatiq-leak: redis-server not found on PATH: install it with "
            "`apt install redis-server` (or run `make setup` from the repository root)"
        ]
        assert "Traceback" not in res.stderr and res.stdout == ""
