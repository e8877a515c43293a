"""A private redis-server, proven to be ours before anything talks to it.

By default it listens on a unix socket in its own temporary folder (``--port 0``: no TCP
at all, socket mode 700, folder mode 700), so no other server can stand in its place. In
TCP mode (``transport="tcp"``, loopback only) a free port is chosen, and another server
could take that port between the choice and the bind: there the server is accepted only
when ``INFO server`` on that port answers with the ``process_id`` of the child we started.
Both modes check that ``process_id`` before any other command is sent; if the child exits
or the check fails, :class:`RedisError` says why and no URL is ever handed out.

Every command the harness sends that empties a database (``client.py enqueue --flush``) is
sent to :attr:`RedisServer.url` and, in the client, re-checks the same ``process_id``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.procs import ProcessGroup, free_port

INSTALL_HINT = (
    "redis-server not found on PATH: install it with `apt install redis-server` "
    "(or run `make setup` from the repository root)"
)
#: Linux limit on a unix socket path (sun_path is 108 bytes, NUL included).
MAX_SOCKET_PATH = 107


#: URL -> pid of every server started and proven here and not yet stopped (see ``proven_pid``).
_PROVEN: dict[str, int] = {}


def proven_pid(url: str) -> int | None:
    """The pid of the running server at ``url`` if this process started and proved it."""
    return _PROVEN.get(url)


class RedisError(RuntimeError):
    """The private redis-server could not be started or proven to be ours."""


class RedisNotFound(RedisError):
    pass


def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RedisNotFound(INSTALL_HINT)
    return path


def _command(sock: socket.socket, *args: str) -> bytes:
    """Send one command (RESP array), return the payload of a bulk-string reply."""
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        out += f"${len(a.encode())}\r\n{a}\r\n".encode()
    sock.sendall(out)
    buf = b""
    while b"\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n")
    if head.startswith(b"-"):
        raise OSError(f"error reply: {head[1:].decode(errors='replace')}")
    if not head.startswith(b"$"):
        raise OSError(f"unexpected reply {head[:40]!r}")
    size = int(head[1:])
    while len(rest) < size + 2:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        rest += chunk
    return rest[:size]


def server_pid(address: str | tuple[str, int], timeout: float = 2.0) -> int:
    """``process_id`` from ``INFO server`` of the Redis at ``address`` (socket path or host/port).

    The first and only command sent: it reads, it changes nothing.
    """
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(address)
        info = _command(sock, "INFO", "server").decode(errors="replace")
    for line in info.splitlines():
        if line.startswith("process_id:"):
            return int(line.split(":", 1)[1])
    raise OSError("INFO server has no process_id")


class RedisServer:
    """``with RedisServer(procs) as r: r.url`` — started on enter, stopped on exit.

    The process goes through ``procs`` (a :class:`lab.procs.ProcessGroup`), so it
    never outlives the run, even on Ctrl-C or ``kill -9`` of the parent.
    ``transport``: ``"unix"`` (default) or ``"tcp"``; ``port``: the TCP port (default: a
    free one).
    """

    def __init__(
        self,
        procs: ProcessGroup,
        binary: str | None = None,
        *,
        transport: str = "unix",
        port: int | None = None,
        timeout: float = 10.0,
    ) -> None:
        if transport not in ("unix", "tcp"):
            raise ValueError(f"transport {transport!r}: expected 'unix' or 'tcp'")
        self.procs = procs
        self.binary = binary or redis_binary()
        self.transport = transport
        self.port = 0
        self._want_port = port
        self.timeout = timeout
        self.socket_path: Path | None = None
        self.pid: int | None = None  # the proven server's pid: set only once it is proven
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        if self.pid is None:
            raise RedisError("redis-server is not running (or not proven to be ours): no URL")
        if self.transport == "unix":
            return f"unix://{self.socket_path}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str | tuple[str, int]:
        return str(self.socket_path) if self.transport == "unix" else ("127.0.0.1", self.port)

    def start(self) -> RedisServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="dleak-redis-")
        tmp = Path(self._tmp.name)
        log = tmp / "redis.log"
        args = [
            self.binary,
            "--dir", str(tmp),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(log),
        ]  # fmt: skip
        if self.transport == "unix":
            self.socket_path = tmp / "redis.sock"
            if len(str(self.socket_path)) > MAX_SOCKET_PATH:
                self.stop()
                raise RedisError(
                    f"unix socket path too long ({len(str(tmp))} characters of temp folder): "
                    "set TMPDIR to a shorter folder"
                )
            sock = str(self.socket_path)
            args += ["--port", "0", "--unixsocket", sock, "--unixsocketperm", "700"]
        else:
            self.port = self._want_port or free_port()
            args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        try:
            with open(log.with_suffix(".out"), "wb") as out:
                self._proc = self.procs.popen(args, stdout=out, stderr=subprocess.STDOUT)
            self.pid = self._prove(log)
            _PROVEN[self.url] = self.pid
        except BaseException:
            self.stop()
            raise
        return self

    def _prove(self, log: Path) -> int:
        """Wait until the child answers ``INFO server`` with its own pid; return it."""
        assert self._proc is not None
        where = self.socket_path if self.transport == "unix" else f"127.0.0.1:{self.port}"
        deadline = time.monotonic() + self.timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RedisError(
                    f"redis-server exited with code {self._proc.returncode} before serving "
                    f"{where}: {_log_tail(log)}"
                )
            try:
                pid = server_pid(self.address)
            except (OSError, ValueError) as exc:
                last = str(exc) or type(exc).__name__
                time.sleep(0.02)
                continue
            if pid != self._proc.pid:
                raise RedisError(
                    f"{where} is served by another redis-server (pid {pid}), not the one "
                    f"started here (pid {self._proc.pid}): refusing to use it"
                )
            return pid
        raise RedisError(
            f"redis-server (pid {self._proc.pid}) did not answer on {where} within "
            f"{self.timeout:.0f} s ({last})"
        )

    def stop(self) -> None:
        if self.pid is not None:
            _PROVEN.pop(self.url, None)
        self.pid = None
        if self._proc is not None:
            self.procs.stop(self._proc)
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _log_tail(log: Path) -> str:
    text = ""
    for path in (log, log.with_suffix(".out")):
        with contextlib.suppress(OSError):
            text += path.read_text(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(nothing logged)"
