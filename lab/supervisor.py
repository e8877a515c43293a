"""One measuring run at a time, and nothing left behind: the run lock and the watchdog.

:class:`RunGuard` wraps a whole ``lab run`` (and ``lab publish``):

* takes the machine-wide lock ``<state>/run.lock`` (``flock``), or fails with
  :class:`LockBusy` naming the pid that holds it; two runs at once would measure each other;
* gives the run a token (``LAB_RUN_TOKEN``) and its own temporary folder (``TMPDIR``), both
  inherited by every process it starts;
* removes what earlier runs that died left behind (temporary folders, half-written runs);
* starts :mod:`lab.watchdog`, which outlives the lab if it is killed and then kills every
  process of the run and removes its temporary folder, holding the lock until it is done.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from lab.paths import state_dir
from lab.watchdog import TOKEN_VAR


class LockBusy(Exception):
    """Another lab run holds the machine-wide lock."""


def _holder(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().split()[0])
    return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunGuard:
    """The lock, the token, the temporary folder and the watchdog of one run."""

    def __init__(self, *, watchdog: bool = True, wait_for_dead_holder: float = 10.0) -> None:
        self.watchdog = watchdog
        self.wait_for_dead_holder = wait_for_dead_holder
        self.token = secrets.token_hex(8)
        self.tmp: Path | None = None
        self._lock_fd: int | None = None
        self._pipe_w: int | None = None
        self._dog: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def lock_path(self) -> Path:
        return state_dir() / "run.lock"

    def _lock(self) -> None:
        state_dir().mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + self.wait_for_dead_holder
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid = _holder(self.lock_path)
                # A holder that is dead is a killed run whose watchdog is still sweeping.
                if _alive(pid) or time.monotonic() > deadline:
                    os.close(fd)
                    raise LockBusy(
                        f"another lab run (pid {pid if pid is not None else '?'}) is measuring "
                        f"on this machine (lock {self.lock_path}); wait for it to finish"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _clean_leftovers(self) -> None:
        tmp_root = state_dir() / "tmp"
        if tmp_root.is_dir():
            for stale in tmp_root.iterdir():
                shutil.rmtree(stale, ignore_errors=True)

    def _set_env(self, key: str, value: str) -> None:
        self._saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def __enter__(self) -> RunGuard:
        self._lock()
        try:
            self._clean_leftovers()
            self.tmp = state_dir() / "tmp" / self.token
            self.tmp.mkdir(parents=True)
            self._set_env(TOKEN_VAR, self.token)
            self._set_env("TMPDIR", str(self.tmp))
            tempfile.tempdir = None  # re-read TMPDIR
            if self.watchdog:
                self._start_watchdog()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_watchdog(self) -> None:
        assert self._lock_fd is not None and self.tmp is not None
        r, w = os.pipe()
        env = {k: v for k, v in os.environ.items() if k != TOKEN_VAR}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        try:
            self._dog = subprocess.Popen(
                [sys.executable, "-m", "lab.watchdog", str(os.getpid()), self.token, str(self.tmp)],
                stdin=r,
                pass_fds=(self._lock_fd,),
                start_new_session=True,
                env=env,
            )
        finally:
            os.close(r)
        self._pipe_w = w

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pipe_w is not None:
            os.close(self._pipe_w)  # the watchdog sweeps now
            self._pipe_w = None
        if self._dog is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._dog.wait(timeout=15)
            self._dog = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        tempfile.tempdir = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
