"""The servers' user-space CPU sampled with perf: parsing, the checks, and real processes whose
split is known (a loop in user space, reads the kernel serves)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from uvloop_bench import usercpu
from uvloop_bench.runner import Bench, Load, Server, Tools, measure_cell, schedstat

from lab.procs import ProcessGroup

USER = 0x5555_0000_1000
KERNEL = 0xFFFF_FFFF_8100_0000
MS = 1_000_000


def test_parse_reads_perf_scripts_lines() -> None:
    lines = ["  44247.806127821:  ffffffff821dc016", "12.5:  7f00aa", ""]
    assert usercpu.parse(lines) == [
        (44247_806127821, 0xFFFFFFFF821DC016),
        (12_500_000_000, 0x7F00AA),
    ]
    with pytest.raises(usercpu.PerfError, match="unexpected line"):
        usercpu.parse(["Warning: lost 3 chunks"])


def _samples(start: int, user: int, kernel: int) -> list[tuple[int, int]]:
    """``user`` then ``kernel`` samples 50 µs apart from ``start`` (ns)."""
    ips = [USER] * user + [KERNEL] * kernel
    return [(start + i * usercpu.PERIOD_NS, ip) for i, ip in enumerate(ips)]


def test_split_counts_the_windows_samples_by_address_space() -> None:
    taken = _samples(0, 2000, 0) + _samples(100 * MS, 300, 1700) + _samples(200 * MS, 0, 2000)
    window = (100 * MS, 200 * MS)  # the middle 2,000 samples: 100 ms of CPU
    got = usercpu.split(taken, window, cpu_s=0.11, enabled_ns=0)
    assert (got.user_samples, got.kernel_samples) == (300, 1700)
    assert got.user_s == pytest.approx(0.015)
    assert got.user_share == pytest.approx(0.15)


@pytest.mark.parametrize(
    "cpu_s, enabled, why",
    [
        (0.11, 101 * MS, "not yet sampling"),
        (0.2, 0, "samples were lost"),  # samples cover half the CPU time
        (0.05, 0, "samples were lost"),  # samples cover more than the process used
    ],
)
def test_split_refuses_samples_that_do_not_add_up(cpu_s: float, enabled: int, why: str) -> None:
    taken = _samples(100 * MS, 300, 1700)
    with pytest.raises(usercpu.PerfError, match=why):
        usercpu.split(taken, (100 * MS, 200 * MS), cpu_s=cpu_s, enabled_ns=enabled)


def test_split_refuses_a_window_the_server_hardly_ran_in() -> None:
    taken = _samples(100 * MS, 10, 100)
    with pytest.raises(usercpu.PerfError, match="hardly ran"):
        usercpu.split(taken, (100 * MS, 200 * MS), cpu_s=0.0055, enabled_ns=0)


SPIN = (
    "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end:\n    sum(range(999))"
)
READ = (
    "import os, time\nfd = os.open('/dev/zero', os.O_RDONLY)\nbuf = bytearray(1 << 22)\n"
    "end = time.monotonic() + 30\nwhile time.monotonic() < end:\n    os.readv(fd, [buf])"
)


def _sample_process(code: str, tmp_path: Path) -> tuple[usercpu.Split, float]:
    """Sample a process running ``code`` for 0.5 s; (the split, its CPU time from schedstat)."""
    data = tmp_path / "perf.data"
    with (
        ProcessGroup() as procs,
        (tmp_path / "perf.log").open("wb") as log,
    ):
        target = procs.popen([sys.executable, "-c", code])
        with usercpu.recording(procs, target.pid, data, log) as enabled:
            time.sleep(0.1)
            start, cpu0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC), schedstat(target.pid)[0]
            time.sleep(0.5)
            end, cpu1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC), schedstat(target.pid)[0]
    return usercpu.split(usercpu.samples(data), (start, end), cpu1 - cpu0, enabled), cpu1 - cpu0


def test_a_loop_in_user_space_samples_as_user_time(tmp_path: Path) -> None:
    got, cpu_s = _sample_process(SPIN, tmp_path)
    assert got.user_share > 0.9
    assert got.user_s == pytest.approx(cpu_s, rel=0.2)


def test_reads_the_kernel_serves_sample_as_kernel_time(tmp_path: Path) -> None:
    got, _ = _sample_process(READ, tmp_path)  # the kernel fills 4 MiB per call
    assert got.user_share < 0.2


@pytest.fixture(scope="module")
def tools() -> Tools:
    return Tools.find()  # not built is a failure under `make test`, never a skip


def test_a_floor_window_adds_the_servers_user_space_cpu(tools: Tools) -> None:
    load = Load(connections=16, size=1000, rate=10000, warmup=0.1, duration=0.3, sampled=0.3)
    with ProcessGroup() as procs:
        bench = Bench(procs, tools)
        with bench.serve(Server(engine="epoll")) as running:
            run = bench.load(running, load)
    sampled = run["user_cpu"]
    assert sampled["user_samples"] + sampled["kernel_samples"] >= usercpu.MIN_SAMPLES
    assert sampled["seconds"] == pytest.approx(0.3)
    assert sampled["problems"] == []
    # The C++ server's own code is a small part of its CPU per request (the kernel's is most).
    assert 0 < run["server_user_us_per_req"] < 0.5 * run["server_cpu_us_per_req"]


def test_no_perf_is_a_failed_cell_that_says_how_to_get_it(
    tools: Tools, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # taskset, perf: neither found
    load = Load(connections=3, size=100, rate=3000, warmup=0.05, duration=0.2, sampled=0.2)
    with ProcessGroup() as procs:
        bench = Bench(procs, tools, pin=False)
        cell = measure_cell(bench, Server(engine="epoll"), load, 1, {"rate": 3000})
    assert not cell.ok
    assert cell.error is not None and "apt install linux-perf" in cell.error
