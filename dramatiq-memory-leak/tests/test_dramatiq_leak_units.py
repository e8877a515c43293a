"""Fast checks of the analysis, accounting, configuration errors and the Redis lifecycle."""

from __future__ import annotations

import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq_leak import analysis, benchmark, cli, envs, harness, redis_server
from dramatiq_leak.redis_server import (
    RedisError,
    RedisNotFound,
    RedisServer,
    redis_binary,
    server_pid,
)

from lab.procs import ProcessGroup, free_port


def test_dleak_bulk_drops_finds_each_sawtooth_fall_once() -> None:
    t = [i * 0.05 for i in range(200)]
    rss = [30 + 64 * ((i // 5) % 10) for i in range(200)]  # +64 MB every 0.25 s, reset every 2.5 s
    drops = analysis.bulk_drops(t, rss, threshold_mb=1.5 * 64)
    assert len(drops) == 3
    assert all(d["size_mb"] == pytest.approx(64 * 9) for d in drops)
    assert [round(d["t"], 2) for d in drops] == [2.5, 5.0, 7.5]


def test_dleak_bulk_drops_ignores_one_buffer_at_a_time() -> None:
    t = [i * 0.05 for i in range(100)]
    rss = [30 + (128 if i % 4 == 1 else 0) for i in range(100)]
    assert analysis.bulk_drops(t, rss, threshold_mb=1.5 * 128) == []


def test_dleak_account_classifies_every_message_and_reports_lost() -> None:
    ids = ["a", "b", "c", "d", "e"]
    states = {"a": "queued", "b": "dead_lettered", "c": "unacked"}
    acc = harness.account(ids, states, succeeded={"d"})
    assert acc["succeeded"] == 1 and acc["dead_lettered"] == 1
    assert acc["still_queued"] == 2
    assert acc["lost"] == 1 and acc["problem_ids"] == ["e"] and acc["ok"] is False
    clash = harness.account(["a"], {"a": "queued"}, succeeded={"a"})
    assert clash["unexpected"] == 1 and not clash["ok"]


def test_dleak_unknown_names_and_bad_cap_are_clear_errors(monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown variant 'nope'.*2.2.1"):
        envs.variant("nope")
    with pytest.raises(ValueError, match="out of range"):
        benchmark.mem_cap_mb(0)
    monkeypatch.setenv(benchmark.CAP_ENV, "lots")
    with pytest.raises(ValueError, match="not a number"):
        benchmark.mem_cap_mb()
    monkeypatch.setenv(benchmark.CAP_ENV, "2.5")
    assert benchmark.mem_cap_mb() == 2.5 * 1024
    assert cli.main(["run", "--mem-cap-gb", "0"]) == 2


def test_dleak_quick_plan_and_selection() -> None:
    cells = benchmark.QUICK.cells()
    # 16 of the original five scenarios, and issue 16's five (taskgroup with all three
    # variants, the others - reraise, sync-async, multi, idle - with 2.2.0 and 2.2.1)
    assert len(cells) == 16 + 3 + 2 + 2 + 2 + 2
    assert benchmark.QUICK.rabbit_cells and benchmark.FULL.rabbit_cells
    full = benchmark.FULL.cells_on(["/elsewhere/python3.13"])
    for key in benchmark.ADDED:  # every added scenario with three variants on both interpreters
        for py in (None, "/elsewhere/python3.13"):
            got = sorted(v.key for s, v, p in full if s.key == key and p == py)
            assert got == sorted(benchmark.THREE), (key, py, got)
    sel = benchmark.select(benchmark.FULL, ["concurrent"], ["2.2.0", "2.2.0+fix"])
    assert [(s.key, v.key) for s, v in sel.cells()] == [
        ("concurrent", "2.2.0"),
        ("concurrent", "2.2.0+fix"),
    ]
    with pytest.raises(ValueError, match="unknown scenario"):
        benchmark.select(benchmark.QUICK, ["bogus"], None)


def test_dleak_missing_redis_server_names_the_fix(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RedisNotFound, match="apt install redis-server"):
        redis_binary()


def _config_get(sock: socket.socket) -> bytes:
    sock.sendall(b"CONFIG GET save\r\nCONFIG GET appendonly\r\nCONFIG GET port\r\n")
    reply = b""
    while reply.count(b"\r\n") < 15:
        reply += sock.recv(4096)
    return reply


def test_dleak_redis_server_is_private_and_gone_after_exit() -> None:
    with ProcessGroup() as procs:
        with RedisServer(procs) as redis:
            proc = redis._proc
            assert proc is not None and redis.pid == proc.pid
            path = redis.socket_path
            assert path is not None and redis.url == f"unix://{path}?db=0"
            assert stat.S_IMODE(path.stat().st_mode) == 0o700
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            assert server_pid(str(path)) == proc.pid
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                reply = _config_get(s)
            assert b"appendonly\r\n$2\r\nno" in reply
            assert b"save\r\n$0\r\n" in reply
            assert b"port\r\n$1\r\n0" in reply  # no TCP listener at all
            tmp = path.parent
        assert proc.poll() is not None
        assert not tmp.exists()
        with pytest.raises(RedisError, match="no URL"):
            _ = redis.url


@pytest.fixture
def foreign_redis(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """Someone else's redis-server on a loopback port, holding a key: (port, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert server_pid(("127.0.0.1", port)) == proc.pid
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
        _resp(port, b"SET precious keep-me\r\n")
        yield port, proc.pid
        assert _resp(port, b"GET precious\r\n") == b"$7\r\nkeep-me\r\n", "foreign key touched"
    finally:
        proc.kill()
        proc.wait()


def _resp(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(command)
        return s.recv(4096)


def test_dleak_redis_never_uses_a_foreign_server_on_its_port(
    foreign_redis: tuple[int, int], monkeypatch
) -> None:
    port, _ = foreign_redis
    monkeypatch.setattr(redis_server, "free_port", lambda host="127.0.0.1": port)
    with ProcessGroup() as procs:
        # Default mode: its own unix socket; the foreign port is never contacted.
        with RedisServer(procs) as redis:
            assert redis.url.startswith("unix://") and str(port) not in redis.url
        # TCP mode on the taken port: whether the foreign server answers before our child
        # fails to bind (refused by pid) or after (the child's exit), a clear error, no URL.
        server = RedisServer(procs, transport="tcp")
        pattern = r"another redis-server \(pid \d+\)|exited with code \d+ before serving"
        with pytest.raises(RedisError, match=pattern):
            server.start()
        assert server.pid is None


def test_dleak_redis_refuses_a_port_answered_by_another_pid(
    foreign_redis: tuple[int, int], tmp_path: Path
) -> None:
    """Our child is alive but not listening; the foreign server answers: refused by pid."""
    port, foreign_pid = foreign_redis
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    with ProcessGroup() as procs:
        server = RedisServer(procs, str(fake), transport="tcp", port=port)
        with pytest.raises(RedisError, match=f"another redis-server \\(pid {foreign_pid}\\)"):
            server.start()
        assert server.pid is None and server._proc is None


def test_dleak_client_flushes_only_the_proven_server(foreign_redis: tuple[int, int]) -> None:
    port, foreign_pid = foreign_redis
    py = envs.ensure_env("2.2.1")
    url = f"redis://127.0.0.1:{port}/0"
    env = envs.child_env(envs.variant("2.2.1"), url, "q", None)
    assert "DLEAK_BROKER_PID" not in env  # never proven here
    args = [str(py), "-m", "dramatiq_leak.client", "enqueue", "sleep_async", "--args", "[1, 1]",
            "--flush"]  # fmt: skip
    res = subprocess.run(args, env=env, capture_output=True, text=True)
    assert res.returncode != 0 and "refusing to flush: DLEAK_BROKER_PID is not set" in res.stderr
    env["DLEAK_BROKER_PID"] = str(foreign_pid + 1)
    res = subprocess.run(args, env=env, capture_output=True, text=True)
    assert res.returncode != 0 and f"pid {foreign_pid}, not the harness's" in res.stderr


def test_dleak_worker_app_refuses_bad_configuration(tmp_path) -> None:
    py = envs.ensure_env("2.2.1")
    env = envs.child_env(envs.variant("2.2.1"), "redis://127.0.0.1:1/0", "q", None)
    env["DLEAK_EXTRA"] = "magic"
    res = subprocess.run(
        [str(py), "-c", "import dramatiq_leak.worker_app"], env=env, capture_output=True, text=True
    )
    assert res.returncode != 0
    assert "DLEAK_EXTRA='magic'" in res.stderr


def test_dleak_other_interpreters_skips_this_version_and_duplicates() -> None:
    import sys

    assert benchmark.other_interpreters([sys.executable, sys.executable]) == []
    cells = benchmark.QUICK.cells_on(["/some/python3.13"])
    extra = [(s.key, v.key, p) for s, v, p in cells[len(benchmark.QUICK.cells()) :]]
    assert extra == [
        ("async-raise", "2.2.0", "/some/python3.13"),
        ("taskgroup", "2.2.1", "/some/python3.13"),
    ]


def test_dleak_unwritten_bytes_do_not_show_in_rss_but_written_buffers_do() -> None:
    py = envs.ensure_env("2.2.1")
    env = envs.child_env(envs.variant("2.2.1"), "redis://127.0.0.1:1/0", "q", None)
    res = subprocess.run(
        [str(py), "-m", "dramatiq_leak.client", "alloc-check", "--mb", "64"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    got = __import__("json").loads(res.stdout)
    assert got["bytes_n_rss_growth_mb"] < 8
    assert got["written_rss_growth_mb"] > 60


def test_dleak_proof_names_what_holds_exceptions_outside_a_cycle() -> None:
    from dramatiq_leak import proof

    holder = [ValueError("kept"), KeyError("kept")]
    refs = proof.referrer_types(list(holder))
    assert refs == ["builtins.list"]  # the holder, not the search's own list
    text = proof.render(
        {
            "dramatiq": "2.2.0", "extra_middleware": "none", "failures": 2,
            "live_after_processing": 2, "cycle": [], "referrers": refs,
            "live_after_gc_collect": 2,
        }
    )  # fmt: skip
    assert "2 alive, no cycle found from them; they are referenced by builtins.list" in text
    assert "no exception alive" not in text
    freed = proof.render(
        {
            "dramatiq": "2.2.1", "extra_middleware": "none", "failures": 1,
            "live_after_processing": 0, "cycle": [], "live_after_gc_collect": 0,
        }
    )  # fmt: skip
    assert "(no exception alive: nothing keeps it" in freed


def test_dleak_idle_figures_say_how_long_a_burst_is_held() -> None:
    from dramatiq_leak import analysis

    t = [i * 0.5 for i in range(41)]  # 20 s, burst ends at 5 s
    held = [100.0 if ti < 2 else 1100.0 for ti in t]  # never falls back
    raw = {"t0": 1000.0, "burst_done": 1005.0}
    ticks = [{"t": 1000.0 + ti, "live": 8} for ti in t]
    gcs: list[dict] = []
    idle = analysis.idle_figures(raw, t, held, gcs, ticks)
    assert idle is not None
    assert idle["burst_end_s"] == 5.0 and idle["watched_s"] == 15.0
    assert idle["held_mb"] == 1000.0 and idle["released_after_s"] is None
    assert idle["collections_while_idle"] == 0 and idle["live_exceptions_end"] == 8
    freed = [r if ti < 12 else 150.0 for ti, r in zip(t, held, strict=True)]
    gcs = [{"t": 1011.9, "gen": 2, "collected": 30}]
    idle = analysis.idle_figures(raw, t, freed, gcs, ticks)
    assert idle["released_after_s"] == 7.0 and idle["full_collections_while_idle"] == 1
    assert analysis.idle_figures({"t0": 1000.0, "burst_done": None}, t, held, [], ticks) is None
