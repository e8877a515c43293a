"""Ctrl-C in the middle of a run leaves no redis-server and no worker behind."""

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
