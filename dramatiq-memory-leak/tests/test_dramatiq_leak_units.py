"""Fast checks of the analysis, accounting, configuration errors and the Redis lifecycle."""

from __future__ import annotations

import socket
import subprocess

import pytest
from dramatiq_leak import analysis, benchmark, cli, envs, harness
from dramatiq_leak.redis_server import RedisNotFound, RedisServer, redis_binary

from lab.procs import ProcessGroup


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
    assert len(cells) == 16
    sel = benchmark.select(benchmark.FULL, ["concurrent"], ["2.2.0", "2.2.0+fix"])
    assert [(s.key, v.key) for s, v in sel.cells()] == [
        ("concurrent", "2.2.0"),
        ("concurrent", "2.2.0+fix"),
    ]
    with pytest.raises(ValueError, match="unknown scenario"):
        benchmark.select(benchmark.QUICK, ["bogus"], None)


def test_dleak_missing_redis_server_names_the_fix(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RedisNotFound, match="make setup"):
        redis_binary()


def test_dleak_redis_server_is_private_and_gone_after_exit() -> None:
    with ProcessGroup() as procs:
        with RedisServer(procs) as redis:
            port = redis.port
            proc = redis._proc
            assert proc is not None
            tmp = redis._tmp.name
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"CONFIG GET save\r\nCONFIG GET appendonly\r\n")
                reply = b""
                while reply.count(b"\r\n") < 10:
                    reply += s.recv(4096)
            assert b"appendonly\r\n$2\r\nno" in reply
            assert b"save\r\n$0\r\n" in reply
        assert proc.poll() is not None
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5)
        assert not __import__("os").path.exists(tmp)


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
    assert cells[-1][0].key == "async-raise" and cells[-1][2] == "/some/python3.13"
    assert len(cells) == len(benchmark.QUICK.cells()) + 1


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
