"""The Python echo servers answer correctly with every loop and API, on every interpreter."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from uvloop_bench.envs import loop_venv, loops
from uvloop_bench.runner import PYCLIENT_PY, SERVERS_PY
from uvloop_bench.servers import APIS, LOOPS

from lab import pythons
from lab.procs import ProcessGroup, free_port, wait_for_port
from lab.venvs import Venv


def _venvs() -> list[Venv]:
    # A venv that cannot be built is a failure: the experiment could not run either.
    return [loop_venv(p) for p in pythons.default()]


@pytest.fixture(scope="module")
def loop_envs() -> list[Venv]:
    return _venvs()


@pytest.fixture(scope="module")
def uvloop_venvs(loop_envs: list[Venv]) -> list[Path]:
    return [v.python for v in loop_envs]


def _installed(venv: Venv, loop: str) -> bool:
    return loop in loops(venv)


def _exchange(port: int, sizes: list[int]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for n, size in enumerate(sizes):
            msg = bytes((i * 31 + n) % 251 for i in range(size))
            # Send from a thread: a 200 kB echo cannot be read back only after sending it all.
            sender = threading.Thread(target=s.sendall, args=(msg,))
            sender.start()
            got = bytearray()
            while len(got) < size:
                chunk = s.recv(65536)
                assert chunk, f"server closed after {len(got)} of {size} bytes"
                got += chunk
            sender.join()
            assert bytes(got) == msg


ECHO_APIS = [a for a in APIS if not a.startswith("http")]
HTTP_APIS = [a for a in APIS if a.startswith("http")]


@pytest.mark.parametrize("api", HTTP_APIS)
@pytest.mark.parametrize("loop", LOOPS)
def test_uvloop_http_server_answers_pipelined_requests(
    loop_envs: list[Venv], loop: str, api: str
) -> None:
    body = (b"abcdefghijklmnopqrstuvwxyz" * 200)[:5000]
    ran = 0
    for env in loop_envs:
        if not _installed(env, loop):
            continue
        port = free_port()
        with ProcessGroup() as procs:
            proc = procs.popen(
                [str(env.python), str(SERVERS_PY), "--loop", loop, "--api", api, "--port",
                 str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            wait_for_port(port, proc=proc, timeout=30)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /5000 HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /0 HTTP/1.1\r\n\r\n")
                want = (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body) * 2
                want += b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                got = b""
                while len(got) < len(want):
                    chunk = s.recv(65536)
                    assert chunk, f"server closed after {len(got)} of {len(want)} bytes"
                    got += chunk
                assert got == want
        ran += 1
    assert ran > 0, f"{loop} is not installed for any interpreter"


@pytest.mark.parametrize("api", ECHO_APIS)
@pytest.mark.parametrize("loop", LOOPS)
def test_uvloop_server_echoes(loop_envs: list[Venv], loop: str, api: str) -> None:
    ran = 0
    for env in loop_envs:
        if not _installed(env, loop):
            continue
        venv = env.python
        port = free_port()
        with ProcessGroup() as procs:
            proc = procs.popen(
                [str(venv), str(SERVERS_PY), "--loop", loop, "--api", api, "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            wait_for_port(port, proc=proc, timeout=30)
            threads = [
                threading.Thread(target=_exchange, args=(port, [1, 1000, 200_000, 7]))
                for _ in range(3)
            ]
            errors: list[BaseException] = []
            for t in threads:
                t.run = _catching(t.run, errors)  # type: ignore[method-assign]
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert not errors, errors
            _exchange(port, [3000] * 20)
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        ran += 1
    assert ran > 0, f"{loop} is not installed for any interpreter"


def _catching(fn, errors):  # type: ignore[no-untyped-def]
    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    return run


def test_uvloop_server_rejects_unknown_loop(uvloop_venvs: list[Path]) -> None:
    proc = subprocess.run(
        [str(uvloop_venvs[0]), str(SERVERS_PY), "--loop", "trio"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "invalid choice: 'trio'" in proc.stderr


def test_uvloop_server_reports_busy_port(uvloop_venvs: list[Path]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [str(uvloop_venvs[0]), str(SERVERS_PY), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_uvloop_eager_server_counts_receives(uvloop_venvs: list[Path], tmp_path: Path) -> None:
    port = free_port()
    stats = tmp_path / "stats.json"
    with ProcessGroup() as procs:
        proc = procs.popen(
            [str(uvloop_venvs[0]), str(SERVERS_PY), "--api", "sockets-eager", "--port", str(port),
             "--stats", str(stats)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(port, proc=proc, timeout=30)
        _exchange(port, [100] * 50)
        procs.stop(proc)
    counters = json.loads(stats.read_text())
    assert counters["immediate"] + counters["waited"] >= 51  # 50 echoes + EOF


def test_uvloop_original_client_verifies_echoes(uvloop_venvs: list[Path]) -> None:
    port = free_port()
    with ProcessGroup() as procs:
        proc = procs.popen(
            [str(uvloop_venvs[0]), str(SERVERS_PY), "--loop", "asyncio", "--api", "protocol",
             "--port", str(port)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(port, proc=proc, timeout=30)
        out = procs.run(
            [str(uvloop_venvs[0]), str(PYCLIENT_PY), "--port", str(port), "--size", "5000",
             "--messages", "100", "--workers", "3"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["messages"] == 300 and res["verified"]
    assert res["wall_s"] >= res["loop_s"] > 0
