"""The runner: cells against the C++ servers, failures recorded, no process survives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
from uvloop_bench import runner
from uvloop_bench.runner import (
    Bench,
    Cell,
    CellError,
    Group,
    Load,
    Server,
    Tools,
    measure_cell,
    measure_group,
    schedstat,
    spread,
)

from lab.procs import ProcessGroup

TINY = Load(connections=3, size=1000, warmup=0.05, duration=0.15)


@pytest.fixture(scope="module")
def uvloop_tools() -> Tools:
    return Tools.find()  # not built is a failure under `make test`, never a skip


def _descendants() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.is_running()]


def test_uvloop_cell_against_cpp_servers(uvloop_tools: Tools) -> None:
    with ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        for engine in ("epoll", "io_uring"):
            cell = measure_cell(bench, Server(engine=engine), TINY, 3, {"engine": engine})
            assert cell.ok, cell.error
            assert len(cell.runs) == 3
            s = cell.stats["req_per_s"]
            assert s["min"] <= s["median"] <= s["max"] and s["min"] > 0
            assert cell.stats["server_cpu_us_per_req"]["median"] > 0
            assert cell.stats["p50_us"]["median"] <= cell.stats["p99_us"]["median"]
    assert _descendants() == []


def test_uvloop_open_loop_cell(uvloop_tools: Tools) -> None:
    with ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        load = Load(connections=3, size=100, rate=3000, warmup=0.05, duration=0.2)
        cell = measure_cell(bench, Server(engine="epoll"), load, 3, {"rate": 3000})
    assert cell.ok, cell.error
    assert cell.runs[0]["mode"] == "open"
    assert cell.runs[0]["requests"] > 0


def test_uvloop_server_stopped_inside_the_window_shows_as_a_stall(uvloop_tools: Tools) -> None:
    """SIGSTOP for 0.3 s of a 1 s window: a few requests out of thousands, invisible in p99,
    so echoload must report it as a completion gap and a stall, and the cell must keep it."""
    load = Load(connections=3, size=100, warmup=0.05, duration=1.0)
    with ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        with bench.serve(Server(engine="epoll")) as running:

            def pause() -> None:
                time.sleep(0.4)
                os.kill(running.proc.pid, signal.SIGSTOP)
                time.sleep(0.3)
                os.kill(running.proc.pid, signal.SIGCONT)

            stopper = threading.Thread(target=pause)
            stopper.start()
            try:
                result = bench.load(running, load)
            finally:
                stopper.join()
    assert result["max_gap_us"] >= 250_000, result
    assert result["stalls"] >= 1, result
    assert result["latency_us"]["p50"] < 250_000  # the percentiles alone would not show it
    cell = Cell(key={}, runs=[result])
    cell.summarize()
    assert cell.as_dict()["runs"][0]["stalls"] >= 1
    assert cell.stats["max_gap_us"]["max"] >= 250_000


def test_uvloop_server_that_cannot_start_is_a_failed_cell(uvloop_tools: Tools) -> None:
    srv = Server(python=sys.executable, python_version="x", loop="no-such-loop", api="protocol")
    with ProcessGroup() as procs:
        cell = measure_cell(Bench(procs, uvloop_tools), srv, TINY, 3, {})
    assert not cell.ok
    assert "did not start" in (cell.error or "")
    assert "invalid choice" in (cell.error or "")
    assert _descendants() == []


def test_uvloop_server_dying_mid_cell_is_reported(uvloop_tools: Tools) -> None:
    with ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        with bench.serve(Server(engine="epoll")) as running:
            bench.load(running, TINY)
            os.kill(running.proc.pid, signal.SIGKILL)
            running.proc.wait(timeout=5)
            with pytest.raises(CellError, match="exited"):
                bench.load(running, TINY)
    assert _descendants() == []


def test_uvloop_no_survivors_after_an_error_inside_a_cell(uvloop_tools: Tools) -> None:
    pids = []
    with pytest.raises(RuntimeError, match="boom"), ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        with bench.serve(Server(engine="epoll")) as running:
            pids.append(running.proc.pid)
            load = procs.popen(TINY.argv(uvloop_tools, running.port)[:-1] + ["--duration", "30"],
                               stdout=subprocess.DEVNULL)  # fmt: skip
            pids.append(load.pid)
            raise RuntimeError("boom")
    time.sleep(0.05)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)
    assert _descendants() == []


def test_uvloop_no_survivors_after_ctrl_c_of_lab(uvloop_tools: Tools, tmp_path) -> None:
    """A process running cells gets SIGINT: it and every server/load generator are gone."""
    script = tmp_path / "cells.py"
    script.write_text(
        "import sys\n"
        "from lab.procs import ProcessGroup\n"
        "from uvloop_bench.runner import Bench, Load, Server, Tools, measure_cell\n"
        "with ProcessGroup() as procs:\n"
        "    bench = Bench(procs, Tools.find())\n"
        "    print('started', flush=True)\n"
        "    measure_cell(bench, Server(engine='epoll'), Load(warmup=0.1, duration=60), 3, {})\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(psutil.Process(proc.pid).children(True)) < 2:
        time.sleep(0.05)
    kids = psutil.Process(proc.pid).children(recursive=True)
    assert kids, "no server or load generator was started"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    gone, alive = psutil.wait_procs(kids, timeout=10)
    assert alive == []


def test_uvloop_cpu_seconds_and_spread() -> None:
    on_cpu, waiting = schedstat(os.getpid())
    assert on_cpu > 0 and waiting >= 0
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}


def test_uvloop_group_interleaves_contenders_and_pairs_rounds(uvloop_tools: Tools) -> None:
    servers = {"a": Server(engine="epoll"), "b": Server(engine="io_uring"),
               "broken": Server(python=sys.executable, python_version="x", loop="asyncio",
                                api="protocol-that-does-not-exist")}  # fmt: skip
    order: list[str] = []
    with ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        cells = measure_group(bench, Group("saturation", {"size": 1000}, servers, TINY), 3,
                              on_window=order.append)  # fmt: skip
    by = {c.key["contender"]: c for c in cells}
    assert not by["broken"].ok and "did not start" in (by["broken"].error or "")
    for name in ("a", "b"):
        assert by[name].ok, by[name].error
        assert [r["round"] for r in by[name].runs] == [0, 1, 2]
        assert by[name].key["engine"] in ("epoll", "io_uring") and by[name].key["size"] == 1000
    # one window each per round, the order rotating: a b, b a, a b
    assert [o.split()[-3] for o in order] == ["a", "b", "b", "a", "a", "b"]
    assert _descendants() == []


def test_uvloop_two_clients_split_connections_and_add_up(uvloop_tools: Tools) -> None:
    with ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        with bench.serve(Server(engine="epoll")) as running:
            r = bench.load(running, Load(connections=5, size=1000, warmup=0.05, duration=0.2),
                           clients=(1, 1))  # fmt: skip
    assert r["clients"] == 2 and len(r["threads"]) == 2
    assert r["requests"] > 0 and r["server_cpu_us_per_req"] > 0
    assert _descendants() == []


def test_uvloop_busy_polling_server_spins_only_while_connected(uvloop_tools: Tools) -> None:
    # All servers of a group stay alive: an idle server that spun would starve the others
    # (a full run once failed on exactly that).
    with ProcessGroup() as procs:
        bench = Bench(procs, uvloop_tools)
        with bench.serve(Server(engine="epoll-busy")) as running:
            r = bench.load(running, Load(connections=3, size=1000, warmup=0.05, duration=0.3))
            assert r["server_cpu_cores"] > 0.6  # spinning while the client is connected
            server = psutil.Process(running.proc.pid)
            time.sleep(0.1)  # the client's connections are closed by now
            before = sum(server.cpu_times()[:2])
            time.sleep(0.5)
            assert sum(server.cpu_times()[:2]) - before < 0.05
    assert _descendants() == []


class _BusyMachine(Bench):
    """A real bench whose first ``starved`` windows report a server that waited for its CPU.

    Every other wait is set to none: the test is about the retries, and must not depend on how
    busy the machine running it is (a CI box running other work starved the real client)."""

    starved: int = 0

    def load(self, running, load, clients=(1,)):  # type: ignore[no-untyped-def,override]
        run = super().load(running, load, clients)
        for thread in run.get("threads", []):
            thread["runqueue_wait_s"] = 0.0
        run["server_runqueue_share"] = 0.0
        if self.starved > 0:
            self.starved -= 1
            run["server_runqueue_share"] = 0.3
        return run


@pytest.mark.parametrize("starved", [3, 4])
def test_uvloop_starved_window_is_measured_again(
    uvloop_tools: Tools, starved: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "STARVED_PAUSES", (0.0, 0.01, 0.02))
    with ProcessGroup() as procs:
        bench = _BusyMachine(procs, uvloop_tools)
        bench.starved = starved
        (cell,) = measure_group(bench, Group("pingpong", {"size": 1000},
                                             {"a": Server(engine="epoll")}, TINY), 2)  # fmt: skip
    assert cell.ok and len(cell.runs) == 2
    assert cell.extra["remeasured"] == ["round 1: server starved (30% of the window waiting "
                                        "for its CPU)"] * 3  # fmt: skip
    # Three retries: a fourth starved window in a row stays, and fails the run as before.
    problems = [p for p in cell.extra["invalid"] if "starved" in p]
    assert problems == (["server starved (30% of the window waiting for its CPU)"]
                        if starved == 4 else [])  # fmt: skip
