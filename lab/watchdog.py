"""The run's watchdog: when ``lab run`` ends, however it ends, nothing it started survives.

``lab run`` starts this as a separate process (its own session) and keeps the write end of a
pipe to it. The watchdog blocks on that pipe. When the pipe closes (``lab run`` finished, or
died: Ctrl-C, SIGTERM, ``kill -9``, an OOM kill), the kernel tells it at once, and it

1. SIGKILLs every process that carries the run's token in its environment (each process the
   lab starts, and their children and grandchildren, inherit ``LAB_RUN_TOKEN``), and every
   descendant of the lab it saw while the run was alive (in case a program cleared its
   environment), until none is left (at most a few seconds);
2. removes the run's temporary folder (``TMPDIR`` of everything the run started);
3. exits, releasing the machine-wide run lock it inherited, so the next run cannot start
   while the old one's processes are still being killed.

PR_SET_PDEATHSIG alone reaches only direct children, and a subreaper dies with the lab: this
process outlives the lab by design and knows the whole tree. Standard library only, so it
starts in a few milliseconds.

Usage (internal): ``python -m lab.watchdog LAB_PID TOKEN TMPDIR`` with the pipe on stdin.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import time
from pathlib import Path

TOKEN_VAR = "LAB_RUN_TOKEN"
#: How long the sweep may take; the lab promises nothing survives more than 5 s.
SWEEP_SECONDS = 4.0
TRACK_INTERVAL = 1.0


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time in clock ticks, state) of ``pid``, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0].decode()


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _carries(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of ``root``: pid -> start time."""
    children: dict[int, list[tuple[int, int]]] = {}
    for pid in _pids():
        st = _stat(pid)
        if st is not None:
            children.setdefault(st[0], []).append((pid, st[1]))
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            if pid not in found:
                found[pid] = start
                todo.append(pid)
    return found


def sweep(token: str, seen: dict[int, int], spare: set[int]) -> list[int]:
    """SIGKILL the run's processes until none is left; return the pids killed."""
    marker = f"{TOKEN_VAR}={token}".encode()
    killed: list[int] = []
    deadline = time.monotonic() + SWEEP_SECONDS
    while True:
        victims = []
        for pid in _pids():
            if pid in spare:
                continue
            st = _stat(pid)
            if st is None or st[2] in ("Z", "X"):
                continue
            if _carries(pid, marker) or seen.get(pid) == st[1]:
                victims.append(pid)
        if not victims or time.monotonic() > deadline:
            return killed
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        # Anything they started meanwhile is their descendant and carries the token too.
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    lab_pid, token, tmp = int(argv[1]), argv[2], Path(argv[3])
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the pipe ends the watch
    seen: dict[int, int] = {}
    fd = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], TRACK_INTERVAL)
        if ready and not os.read(fd, 4096):
            break  # EOF: the lab is done or dead
        seen.update(descendants(lab_pid))
    spare = {os.getpid()}
    if _stat(lab_pid) is not None:
        spare.add(lab_pid)  # a clean exit: the lab waits for us
    killed = sweep(token, seen, spare)
    shutil.rmtree(tmp, ignore_errors=True)
    if killed:
        print(
            f"lab watchdog: killed {len(killed)} leftover process(es) of the run", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
