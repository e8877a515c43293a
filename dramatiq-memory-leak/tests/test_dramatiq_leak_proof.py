"""The root cause, proven against a real Redis with the real dramatiq worker machinery.

Each proof runs ``python -m dramatiq_leak.proof`` in the variant's own environment
(dramatiq 2.2.0 or 2.2.1, built by uv and cached), with the cyclic collector
disabled, so only reference counting can free an exception.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dramatiq_leak import benchmark, envs
from dramatiq_leak.redis_server import RedisServer

from lab.procs import ProcessGroup


@pytest.fixture(scope="module")
def dleak_redis_url() -> Iterator[str]:
    with ProcessGroup() as procs, RedisServer(procs) as redis:
        yield redis.url


def _proof(url: str, key: str, failures: int) -> dict:
    with ProcessGroup() as procs:
        return benchmark.run_proof(procs, url, envs.variant(key), failures=failures)


def test_dleak_cycle_on_2_2_0_is_exception_traceback_frame_future(dleak_redis_url: str) -> None:
    res = _proof(dleak_redis_url, "2.2.0", 1)
    assert res["dramatiq"] == "2.2.0"
    assert res["gc_enabled"] is False
    assert res["failures"] == 1 and res["dead_lettered"] == 1
    assert res["live_after_processing"] == 1
    assert res["cycle_closes_on_itself"] is True
    objects = [step["object"] for step in res["cycle"]]
    edges = [step["refers_to_next_by"] for step in res["cycle"]]
    assert objects[0].startswith("dramatiq_leak.worker_app.BigError")
    assert objects[-1] == objects[0]
    assert edges[0] == "__traceback__"
    assert any(o.startswith("traceback entry: EventLoopThread.run_coroutine") for o in objects)
    frame_at = objects.index("frame of EventLoopThread.run_coroutine (asyncio.py)")
    assert edges[frame_at] == "local variable 'future'"
    assert objects[frame_at + 1].startswith("concurrent.futures._base.Future")
    assert edges[frame_at + 1] == "attribute '_exception'"
    # A cycle, not a leak: the collector frees it.
    assert res["live_after_gc_collect"] == 0
    assert "run_coroutine" in res["text"]
    # Where the bytes are: the 8 MiB buffer, allocated by written_buffer for fail_async, is
    # the largest site tracemalloc still sees; the collector frees it.
    top = res["top_sites"][0]
    assert 7.9 <= top["mib"] <= 8.1, res["top_sites"]
    assert top["at"][0].startswith("worker_app.py:") and any(
        "worker_app.py" in f for f in top["at"][1:]
    ), top
    assert res["traced_after_processing_mib"] - res["traced_after_gc_collect_mib"] >= 7.9
    assert "where the bytes are" in res["text"]


@pytest.mark.parametrize("key", ["2.2.1", "2.2.0+fix"])
def test_dleak_fixed_variants_free_the_exception_at_once(dleak_redis_url: str, key: str) -> None:
    res = _proof(dleak_redis_url, key, 1)
    assert res["failures"] == 1
    assert res["live_after_processing"] == 0
    assert res["cycle"] == []
    assert all(site["mib"] < 1 for site in res["top_sites"]), res["top_sites"]


def test_dleak_fix_leaves_zero_live_exceptions_after_n_failures(dleak_redis_url: str) -> None:
    n = 20
    affected = _proof(dleak_redis_url, "2.2.0", n)
    fixed = _proof(dleak_redis_url, "2.2.0+fix", n)
    assert affected["failures"] == fixed["failures"] == n
    assert affected["live_after_processing"] == n  # every one of them kept by its cycle
    assert fixed["live_after_processing"] == 0
    assert fixed["dead_lettered"] == 1


def test_dleak_run_coroutine_source_differs_by_del_future(dleak_redis_url: str) -> None:
    with ProcessGroup() as procs:
        src = benchmark.source_diff(procs, dleak_redis_url)
    added = [line for line in src["diff"].splitlines() if line.startswith("+ ")]
    assert any("del future" in line for line in added)
    assert any("self._exception = None" in line for line in added)
