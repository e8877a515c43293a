"""The private RabbitMQ node (dramatiq_leak.rabbitmq_server) and a real cell on it: started
with its own ports, epmd and data, proven its own, refused when it is not, gone after use."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from dramatiq_leak import analysis, envs, harness, rabbitmq_server
from dramatiq_leak.rabbitmq_server import RabbitError, RabbitNotFound, RabbitServer
from dramatiq_leak.scenarios import scenario

from lab.procs import ProcessGroup


def _is_beam(pid: int) -> bool:
    try:
        return "beam" in psutil.Process(pid).name()
    except psutil.NoSuchProcess:
        return False


def test_the_node_is_private_proven_and_gone_after_use() -> None:
    with ProcessGroup() as procs:
        with RabbitServer(procs) as rabbit:
            url, pid = rabbit.url, rabbit.pid
            assert url.startswith("amqp://guest:guest@127.0.0.1:") and str(rabbit.port) in url
            assert rabbitmq_server.proven_pid(url) == rabbit.pid
            assert pid is not None and _is_beam(pid)
            env = envs.child_env(envs.variant("2.2.1"), url, "q", None)
            assert env["DLEAK_BROKER_PID"] == str(rabbit.pid)  # only a proven node gets it
        assert rabbitmq_server.proven_pid(url) is None
        assert not _is_beam(pid)
        with pytest.raises(RabbitError, match="not running"):
            _ = rabbit.url


def test_a_node_that_is_not_ours_is_refused() -> None:
    with ProcessGroup() as procs, RabbitServer(procs) as real:
        # Another harness object that started only `sleep`, pointed at the real node: the node
        # answers with a pid that is not this object's child, so it must refuse it.
        other = RabbitServer(procs)
        other.node, other.port, other._env = real.node, real.port, dict(real._env)
        other._proc = procs.popen(["sleep", "30"])
        with pytest.raises(RabbitError, match="not a process started here"):
            other._prove(Path("/nonexistent"))
        procs.stop(other._proc)
        other._proc, other._env = None, {}  # do not stop the real node through it


def test_a_missing_rabbitmq_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(rabbitmq_server, "BIN", tmp_path)
    with ProcessGroup() as procs, pytest.raises(RabbitNotFound, match="apt install rabbitmq"):
        RabbitServer(procs)


def test_an_async_failure_cell_runs_on_rabbitmq(tmp_path: Path) -> None:
    sc = scenario("async-raise")
    with ProcessGroup() as procs, RabbitServer(procs) as rabbit:
        cfg = harness.CellConfig(sc, envs.variant("2.2.0"), 16, 4.0, 4096, broker="rabbitmq")
        summary = analysis.analyse(harness.run_cell(procs, rabbit.url, cfg, tmp_path))
    assert summary["broker"] == "rabbitmq" and summary["crashed"] is None
    assert summary["accounting"]["ok"] and summary["accounting"]["enqueued"] == 1
    assert summary["attempts"] >= 3
    assert summary["live_exceptions_max"] > 1  # 2.2.0 keeps them on this broker too
    assert summary["process_peaks_mb"] and summary["process_peaks_mb"][0] > 16
