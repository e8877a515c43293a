"""Real ``dramatiq`` CLI workers on a real Redis, sampled from outside: the fix's memory bound,
the memory cap, a crashing worker, and message accounting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq_leak import analysis, envs, harness
from dramatiq_leak.redis_server import RedisServer
from dramatiq_leak.scenarios import Scenario, scenario

from lab.procs import ProcessGroup


@pytest.fixture(scope="module")
def dleak_procs_redis() -> Iterator[tuple[ProcessGroup, str]]:
    with ProcessGroup() as procs, RedisServer(procs) as redis:
        yield procs, redis.url


def test_dleak_fix_keeps_peak_rss_under_400mb_over_50_retries_of_128mb(
    dleak_procs_redis: tuple[ProcessGroup, str], tmp_path: Path
) -> None:
    procs, url = dleak_procs_redis
    cfg = harness.CellConfig(
        scenario("async-raise"),
        envs.variant("2.2.0+fix"),
        mb=128,
        duration_s=90,
        mem_cap_mb=2000,
        stop_after_attempts=50,
        max_retries=49,
    )
    raw = harness.run_cell(procs, url, cfg, tmp_path)
    summary = analysis.analyse(raw)
    assert raw["boot"]["gc_enabled"] is True
    assert raw["crashed"] is None and raw["capped"] is None
    assert summary["failures"] >= 50
    assert summary["peak_mb"] < 400, summary
    # the buffers were real: RSS did rise by a buffer at a time
    assert summary["peak_mb"] - summary["floor_mb"] > 100
    acc = raw["accounting"]
    assert acc["ok"] and acc["enqueued"] == 1 and acc["dead_lettered"] == 1


def test_dleak_memory_cap_stops_the_worker_and_keeps_the_message(
    dleak_procs_redis: tuple[ProcessGroup, str], tmp_path: Path
) -> None:
    procs, url = dleak_procs_redis
    cfg = harness.CellConfig(
        scenario("async-raise"), envs.variant("2.2.0"), mb=64, duration_s=60, mem_cap_mb=300
    )
    raw = harness.run_cell(procs, url, cfg, tmp_path)
    assert raw["stop_reason"] == "memory cap"
    assert raw["capped"] is not None and raw["capped"]["rss_mb"] > 300
    assert max(raw["samples"].tree_rss) / harness.MiB > 300
    acc = raw["accounting"]
    assert acc["ok"] and acc["still_queued"] == 1  # held by the killed worker, not lost


def test_dleak_crashed_worker_is_recorded(
    dleak_procs_redis: tuple[ProcessGroup, str], tmp_path: Path
) -> None:
    procs, url = dleak_procs_redis
    crash = Scenario("crash", "worker dies", "crash_worker", 1, 1, 7)
    cfg = harness.CellConfig(crash, envs.variant("2.2.1"), mb=7, duration_s=30, mem_cap_mb=2000)
    raw = harness.run_cell(procs, url, cfg, tmp_path)
    assert raw["stop_reason"] == "crashed"
    # the supervisor reports the worker's exit code (its own exit may race with our stop)
    assert raw["crashed"]["worker_exit_code"] == 7, raw["crashed"]
    assert raw["accounting"]["ok"] and raw["accounting"]["still_queued"] == 1
