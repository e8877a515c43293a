"""Child processes that never outlive the run that started them.

Every process an experiment starts goes through :class:`ProcessGroup`:

* each child gets its own session (so a terminal Ctrl-C reaches ``lab`` first,
  and the whole subtree can be killed with one ``killpg``);
* each child is asked by the kernel to die with ``lab`` (``PR_SET_PDEATHSIG``),
  which covers even ``kill -9`` of ``lab`` itself;
* leaving the ``with`` block, normally, on an exception or on Ctrl-C, sends
  SIGTERM to every group still alive, waits briefly, then SIGKILLs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
    proc: subprocess.Popen[Any] | None = None,
) -> None:
    """Wait until something accepts on host:port; fail fast if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"process {proc.args!r} exited with {proc.returncode} before listening on {port}"
            )
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f} s")


class ProcessGroup:
    """Owns child processes; kills whatever is left when closed.

    Pipes carry ``str`` or ``bytes`` depending on the ``text``/``encoding`` keywords the
    caller passes through, hence ``Popen[Any]`` and ``CompletedProcess[Any]``.
    """

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[Any]] = []

    def popen(self, args: Sequence[str | os.PathLike[str]], **kwargs: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen`` with a new session and death-with-parent; tracked for cleanup."""
        if "preexec_fn" in kwargs:
            raise ValueError("ProcessGroup.popen sets preexec_fn itself")
        kwargs.setdefault("start_new_session", True)
        proc = subprocess.Popen(args, preexec_fn=_die_with_parent, **kwargs)
        self._procs.append(proc)
        return proc

    def run(
        self, args: Sequence[str | os.PathLike[str]], timeout: float | None = None, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Like ``subprocess.run`` but killable from here (and killed on timeout)."""
        check = kwargs.pop("check", False)
        proc = self.popen(args, **kwargs)
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            self.stop(proc)
            raise
        finally:
            self._forget(proc)
        result: subprocess.CompletedProcess[Any] = subprocess.CompletedProcess(
            proc.args, proc.returncode, out, err
        )
        if check:
            result.check_returncode()
        return result

    def stop(self, proc: subprocess.Popen[Any], grace: float = 3.0) -> int | None:
        """SIGTERM the child's whole process group, SIGKILL after ``grace`` seconds."""
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
        # The leader may be gone while others in its group live on.
        _signal_group(proc, signal.SIGKILL)
        self._forget(proc)
        return proc.returncode

    def close(self) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:
            _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def _forget(self, proc: subprocess.Popen[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._procs.remove(proc)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
