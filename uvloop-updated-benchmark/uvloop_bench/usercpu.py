"""A server's user-space CPU time over echoload's measured window, sampled by ``perf``.

At equal load every server here pays the same kernel work per request (being woken, the TCP
receive and send, which on loopback carries the client's side of the transfer too), so the
total CPU per request that /proc schedstat gives separates the loops by a few percent. The loop's
own work is what runs in user space: the event loop, the protocol callbacks, the interpreter.
This kernel keeps no exact user/system split (tick-based accounting: /proc/<pid>/stat's utime is
a 250 Hz sample, and it was off by almost 10x for the C++ io_uring server), and this virtual
machine has no hardware counters, so it is sampled:

    perf record --clockid monotonic --event cpu-clock --count 50000 --pid PID

takes a sample every 50 µs of the server's own CPU time (a timer that runs only while the server
runs); a sample whose instruction pointer is in user space counts 50 µs of user-space CPU. Only
the samples inside echoload's measured window count (echoload reports it on CLOCK_MONOTONIC,
the clock perf stamps samples with). perf starts with its events off and is switched on through
its control pipe before echoload starts, so its start-up (0.2 s here) is outside the window.
Two checks make a bad sample loud: perf must have been sampling when the window opened, and all
samples together must account for the server's CPU time in the window as schedstat measures it
(``AGREEMENT``).

Attaching perf to a process makes its context switches dearer (its timer is stopped and started
with each), so these windows are separate from the ones that measure total CPU per request.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lab.procs import ProcessGroup

#: One sample per this much of the server's CPU time (ns).
PERIOD_NS = 50_000
#: All samples x period over schedstat's CPU time in the window must lie in this band. It is
#: below 1 because the context switch itself is not sampled (the timer runs from the moment the
#: task's events are switched in to the moment they are switched out): here 83-91 % of the
#: servers' CPU was sampled, whatever the period (50, 100 or 200 µs), at 20,000 req/s of
#: 1,000 B, C++ and Python servers alike. That part is kernel time, so user-space time is
#: the user samples x period, not a share of schedstat's total.
AGREEMENT = (0.7, 1.05)
#: Fewer samples than this in the window: too little to split (the server hardly ran).
MIN_SAMPLES = 200
#: x86-64 and arm64 kernels live in the upper half of the address space.
KERNEL_START = 0xFFFF_0000_0000_0000
_LINE = re.compile(r"^\s*(\d+)\.(\d+):\s+([0-9a-f]+)\s*$")


class PerfError(RuntimeError):
    """perf is missing, not allowed to sample the server, or its samples do not add up."""


def perf_path() -> str:
    """The perf binary, or PerfError saying how to get it."""
    path = shutil.which("perf")
    if path is None:
        raise PerfError(
            "perf not found on PATH: the servers' user-space CPU is sampled with it "
            "(`apt install linux-perf`, or run `make setup` from the repository root)"
        )
    return path


def record_argv(pid: int, output: Path, control: tuple[int, int]) -> list[str]:
    """perf record sampling ``pid`` (all its threads) into ``output`` until SIGTERM, started
    with its events disabled: ``enable`` turns them on through the ``control`` descriptors
    (perf reads commands from the first and acknowledges on the second)."""
    return [
        perf_path(), "record", "--quiet", "--no-buildid", "--no-buildid-cache",
        "--clockid", "monotonic", "--event", "cpu-clock", "--count", str(PERIOD_NS),
        "--delay", "-1", "--control", f"fd:{control[0]},{control[1]}",
        "--pid", str(pid), "--output", str(output),
    ]  # fmt: skip


def enable(ctl: int, ack: int, timeout: float = 20.0) -> int:
    """Turn perf's events on (``record_argv``'s control pipe ends, ours) and wait until perf
    says they are; returns that moment on CLOCK_MONOTONIC (ns)."""
    os.write(ctl, b"enable\n")
    ready, _, _ = select.select([ack], [], [], timeout)
    got = os.read(ack, 16) if ready else b""
    if not got.startswith(b"ack"):
        raise PerfError(
            f"perf did not start sampling within {timeout:.0f} s"
            if not ready
            else f"perf answered {got!r} to enable"
        )
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


@contextlib.contextmanager
def recording(procs: ProcessGroup, pid: int, data: Path, log: BinaryIO) -> Iterator[int]:
    """perf record sampling ``pid`` into ``data`` (its output to ``log``), its events on for
    the block; yields the moment they were switched on (CLOCK_MONOTONIC, ns). On exit perf is
    stopped (SIGTERM: it writes ``data`` and exits) and the control pipe closed."""
    ctl_r, ctl_w = os.pipe()
    ack_r, ack_w = os.pipe()
    try:
        perf = procs.popen(
            record_argv(pid, data, (ctl_r, ack_w)),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(ctl_r, ack_w),
        )
        try:
            yield enable(ctl_w, ack_r)
        finally:
            procs.stop(perf)
    finally:
        for fd in (ctl_r, ctl_w, ack_r, ack_w):
            os.close(fd)


def samples(data: Path) -> list[tuple[int, int]]:
    """(time on CLOCK_MONOTONIC in ns, instruction pointer) of every sample in ``data``."""
    proc = subprocess.run(
        [perf_path(), "script", "--ns", "--fields", "time,ip", "--input", str(data)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise PerfError(f"perf script failed: {proc.stderr.strip()[-300:]}")
    return parse(proc.stdout.splitlines())


def parse(lines: Iterable[str]) -> list[tuple[int, int]]:
    """Samples from ``perf script --ns --fields time,ip`` output ("  12.000000123:  ffff8...")."""
    out = []
    for line in lines:
        m = _LINE.match(line)
        if m is None:
            if line.strip():
                raise PerfError(f"unexpected line in perf script output: {line!r}")
            continue
        out.append((int(m[1]) * 1_000_000_000 + int(m[2].ljust(9, "0")[:9]), int(m[3], 16)))
    return out


@dataclass(frozen=True)
class Split:
    """The server's sampled CPU time in one window."""

    user_samples: int
    kernel_samples: int

    @property
    def user_s(self) -> float:
        return self.user_samples * PERIOD_NS / 1e9

    @property
    def sampled_s(self) -> float:
        return (self.user_samples + self.kernel_samples) * PERIOD_NS / 1e9

    @property
    def user_share(self) -> float:
        return self.user_samples / max(1, self.user_samples + self.kernel_samples)


def split(
    taken: list[tuple[int, int]], window: tuple[int, int], cpu_s: float, enabled_ns: int
) -> Split:
    """Count the samples inside ``window`` (ns, CLOCK_MONOTONIC) by address space, and check
    them against ``cpu_s``, the server's CPU time over that window from schedstat;
    ``enabled_ns``: when perf's events were on (``enable``)."""
    start, end = window
    if enabled_ns > start:
        raise PerfError("perf was not yet sampling the server when the window opened")
    inside = [ip for t, ip in taken if start <= t < end]
    kernel = sum(1 for ip in inside if ip >= KERNEL_START)
    out = Split(len(inside) - kernel, kernel)
    if len(inside) < MIN_SAMPLES:
        raise PerfError(
            f"only {len(inside)} perf samples in the window (at least {MIN_SAMPLES} needed): "
            "the server hardly ran"
        )
    low, high = AGREEMENT
    if not low * cpu_s <= out.sampled_s <= high * cpu_s:
        raise PerfError(
            f"perf's samples account for {out.sampled_s:.3f} s of the server's CPU in the "
            f"window, schedstat for {cpu_s:.3f} s (expected {low:.0%}-{high:.0%} of it): "
            "samples were lost, or were not the server's"
        )
    return out
