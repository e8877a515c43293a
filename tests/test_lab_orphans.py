"""kill -9 of a real `lab run dramatiq-memory-leak`: its redis-server, dramatiq supervisor and
worker (a grandchild) and its temporary folders are gone within 5 s."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from test_lab_processes import _assert_all_gone

ROOT = Path(__file__).resolve().parent.parent
NAME = "dramatiq-memory-leak"


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(proc: psutil.Process) -> str:
    """The command line, or "" for a process that exited (or is a zombie) since it was listed:
    the run starts and reaps short-lived helpers while this test walks its tree."""
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # ZombieProcess is a NoSuchProcess
        return ""


def test_kill_9_of_a_real_run_leaves_no_process_and_no_temp_folder(tmp_path):
    # A short state folder: redis-server's unix socket lives in the run's private TMPDIR, and a
    # socket path may not exceed 107 bytes (pytest's tmp_path is long; the harness says so).
    short = Path(tempfile.mkdtemp(prefix="lab-", dir="/tmp"))
    (tmp_path / "state").symlink_to(short)
    env = dict(os.environ, LAB_STATE_DIR=str(short))
    before = set(os.listdir(ROOT / "runs" / NAME)) if (ROOT / "runs" / NAME).is_dir() else set()
    lab = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "run", NAME],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Wait for a dramatiq worker process: a child of the dramatiq supervisor, itself a child
        # of the lab (so a grandchild, which PR_SET_PDEATHSIG does not reach), and redis-server.
        deadline = time.monotonic() + 300
        while True:
            procs = _tree(lab.pid)
            names = [_cmdline(p) for p in procs]
            supervisors = [p for p in procs if "worker_app" in _cmdline(p)]
            workers = [c for s in supervisors for c in _tree(s.pid)]
            if workers and any("redis-server" in n for n in names):
                break
            assert lab.poll() is None, "the run ended before its worker started"
            assert time.monotonic() < deadline, f"no dramatiq worker within 300 s: {names}"
            time.sleep(0.2)
        time.sleep(0.5)
        victims = [p.pid for p in _tree(lab.pid)]
        tmp_folders = list((tmp_path / "state" / "tmp").iterdir())
        assert len(tmp_folders) == 1 and any(tmp_folders[0].iterdir())
    except BaseException:
        lab.send_signal(signal.SIGINT)
        lab.wait(timeout=60)
        raise

    lab.kill()
    lab.wait()
    _assert_all_gone(victims, within=5.0)
    deadline = time.monotonic() + 5
    while tmp_folders[0].exists():
        assert time.monotonic() < deadline, f"{tmp_folders[0]} was not removed"
        time.sleep(0.05)
    after = {n for n in os.listdir(ROOT / "runs" / NAME) if not n.startswith(".")}
    assert after <= before | {"latest"}, "a killed run left a run folder where readers look"
    shutil.rmtree(short)
