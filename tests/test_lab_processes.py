"""Interrupted runs leave nothing half-written; no process outlives a run; one run at a time;
a folder the lab cannot write fails that experiment only."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_lab import OK_EXPERIMENT, lab, make_root

# Starts a child that starts a grandchild which leaves the group, ignores SIGTERM and
# would live for ten minutes: only the watchdog can find it once the lab is gone.
SLEEPY_EXPERIMENT = """
import sys, time
TITLE = "starts a tree of processes and waits"
GRANDCHILD = (
    "import os, signal, subprocess, sys, time\\n"
    "g = subprocess.Popen([sys.executable, '-c', "
    "'import os, signal, time; os.setsid(); signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "time.sleep(600)'])\\n"
    "open(sys.argv[1], 'w').write(str(g.pid))\\n"
    "time.sleep(600)\\n"
)
def run(ctx):
    import tempfile
    (ctx.out / "half-written.csv").write_text("a,b\\n")
    scratch = tempfile.mkdtemp(prefix="sleepy-")
    child = ctx.procs.popen([sys.executable, "-c", GRANDCHILD, ctx.out / "grandchild.pid"])
    while not (ctx.out / "grandchild.pid").exists() or not (ctx.out / "grandchild.pid").read_text():
        time.sleep(0.02)
    (ctx.out / "scratch").write_text(scratch)
    (ctx.out / "child.pid").write_text(str(child.pid))
    time.sleep(600)
    return {}
def errors(results):
    return []
def measurement_count(results):
    return 1
"""


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "run", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path_glob: Path, pattern: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in path_glob.glob(pattern):
            if p.stat().st_size:
                return p
        time.sleep(0.05)
    raise AssertionError(f"nothing matching {path_glob}/{pattern} within {timeout} s")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _assert_all_gone(pids: list[int], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not all(_gone(p) for p in pids):
        alive = [p for p in pids if not _gone(p)]
        assert time.monotonic() < deadline, f"processes {alive} survived the run by {within} s"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_an_interrupted_run_leaves_no_process_and_no_result(tmp_path, how):
    env = make_root(tmp_path, {"good": OK_EXPERIMENT, "sleepy": SLEEPY_EXPERIMENT})
    assert lab("run", "good", env=env).returncode == 0
    good_before = (tmp_path / "runs/good/latest").resolve()

    proc = _start(env, "sleepy")
    child_pid_file = _wait_for(tmp_path / "runs/sleepy", ".*.partial/child.pid")
    staging = child_pid_file.parent
    child = int(child_pid_file.read_text())
    grandchild = int((staging / "grandchild.pid").read_text())
    scratch = Path((staging / "scratch").read_text())
    assert scratch.is_dir() and not _gone(grandchild)

    t0 = time.monotonic()
    proc.send_signal(getattr(signal, how))
    out, err = proc.communicate(timeout=20)
    if how != "SIGKILL":
        assert proc.returncode == 130, out + err
        assert "interrupted" in out + err
        assert time.monotonic() - t0 < 10
    _assert_all_gone([child, grandchild])
    deadline = time.monotonic() + 5
    while scratch.exists():
        assert time.monotonic() < deadline, "the run's temporary folder was not removed"
        time.sleep(0.05)

    # No run appeared where a reader looks; the good run is still the latest one.
    visible = [p.name for p in (tmp_path / "runs/sleepy").iterdir() if not p.name.startswith(".")]
    assert visible == []
    assert (tmp_path / "runs/good/latest").resolve() == good_before
    if how == "SIGKILL":
        assert staging.exists()  # the lab had no chance; the next run removes it
        assert lab("run", "good", env=env).returncode == 0
        assert not staging.exists()
    else:
        assert not staging.exists()


def test_one_run_at_a_time(tmp_path):
    env = make_root(tmp_path, {"good": OK_EXPERIMENT, "sleepy": SLEEPY_EXPERIMENT})
    first = _start(env, "sleepy")
    try:
        _wait_for(tmp_path / "runs/sleepy", ".*.partial/child.pid")
        second = lab("run", "good", env=env)
        assert second.returncode == 3, second.stdout + second.stderr
        assert f"another lab run (pid {first.pid}) is measuring on this machine" in second.stderr
        assert not (tmp_path / "runs/good").exists()
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=20)
    assert lab("run", "good", env=env).returncode == 0  # the lock is free again


@contextlib.contextmanager
def _mounted(target: Path, options: str):
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _read_only(target: Path):
    if os.geteuid() == 0:  # root ignores permission bits: a read-only mount is the real thing
        return _mounted(target, "ro,size=1m")
    target.mkdir(parents=True)
    target.chmod(0o555)
    return contextlib.nullcontext(target)


def test_a_read_only_folder_fails_that_experiment_only(tmp_path):
    env = make_root(tmp_path, {"blocked": OK_EXPERIMENT, "good": OK_EXPERIMENT})
    with _read_only(tmp_path / "runs/blocked"):
        result = lab("run", env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert (
        "blocked failed: cannot write its run folder: OSError: [Errno 30]"
        in out.replace("PermissionError", "OSError")
        or "Permission denied" in out
    )
    assert "Traceback" not in out
    assert (tmp_path / "runs/good/latest/record.json").is_file()


FILLS_DISK = """
TITLE = "writes more than fits"
def run(ctx):
    (ctx.out / "big.bin").write_bytes(b"x" * 4_000_000)
    return {"n": 1, "verdicts": []}
def errors(results):
    return []
def measurement_count(results):
    return 1
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a full file system needs root")
def test_a_full_disk_fails_that_experiment_only(tmp_path):
    env = make_root(tmp_path, {"full": FILLS_DISK, "good": OK_EXPERIMENT})
    with _mounted(tmp_path / "runs/full", "size=1m") as folder:
        result = lab("run", env=env)
        left = [p.name for p in folder.iterdir()]
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "No space left on device" in out and "Traceback" not in out
    assert not [n for n in left if not n.startswith(".")], left
    assert (tmp_path / "runs/good/latest/record.json").is_file()
