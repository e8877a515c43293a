"""A private RabbitMQ node (Debian's rabbitmq-server), proven to be ours before it is used.

Everything the node reads or writes is its own: a node name with this process's pid, a
temporary HOME (its Erlang cookie), data and log folders, an empty plugin list, and three
loopback ports chosen free: AMQP, Erlang distribution and a private epmd (the Erlang port
mapper, which the node starts as a daemon; stopped here). Before an AMQP URL is handed out,
``rabbitmqctl eval 'os:getpid().'`` on that node name must answer with the pid of a process
started here (the node's beam, a child of the ``rabbitmq-server`` script), and the AMQP port
must be the one that node listens on; anything else is :class:`RabbitError`.

Debian's ``/usr/sbin/rabbitmq-server`` switches to the ``rabbitmq`` user and its system
folders; the scripts in ``/usr/lib/rabbitmq/bin`` are run directly instead, with the
environment above, so the system's node (if any) and its data are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from lab.procs import ProcessGroup, free_port

BIN = Path(os.environ.get("DLEAK_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
INSTALL_HINT = (
    "rabbitmq-server not found (expected {bin}/rabbitmq-server): install it with "
    "`apt install rabbitmq-server` (or run `make setup` from the repository root)"
)


#: URL -> beam pid of every node started and proven here and not yet stopped.
_PROVEN: dict[str, int] = {}


def proven_pid(url: str) -> int | None:
    """The pid of the running node at ``url`` if this process started and proved it."""
    return _PROVEN.get(url)


class RabbitError(RuntimeError):
    """The private RabbitMQ node could not be started or proven to be ours."""


class RabbitNotFound(RabbitError):
    pass


def rabbit_bin() -> Path:
    if not (BIN / "rabbitmq-server").is_file() or shutil.which("epmd") is None:
        raise RabbitNotFound(INSTALL_HINT.format(bin=BIN))
    return BIN


class RabbitServer:
    """``with RabbitServer(procs) as r: r.url`` — a node started on enter, stopped on exit."""

    def __init__(self, procs: ProcessGroup, timeout: float = 60.0) -> None:
        self.procs = procs
        self.bin = rabbit_bin()
        self.timeout = timeout
        self.node = f"dleak{os.getpid()}x{time.monotonic_ns() % 100000}@localhost"
        self.pid: int | None = None  # the node's beam pid, once proven
        self.port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[Any] | None = None
        self._env: dict[str, str] = {}

    @property
    def url(self) -> str:
        if self.pid is None:
            raise RabbitError("the RabbitMQ node is not running (or not proven to be ours)")
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _ctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "rabbitmqctl"), "-n", self.node, *args],
            env=self._env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def start(self) -> RabbitServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="dleak-rabbit-")
        tmp = Path(self._tmp.name)
        (tmp / "enabled_plugins").write_text("[].\n")
        self.port = free_port()
        epmd = free_port()
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(tmp),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "ERL_EPMD_PORT": str(epmd),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(tmp / "mnesia"),
            "RABBITMQ_LOG_BASE": str(tmp / "log"),
            "RABBITMQ_LOGS": str(tmp / "log" / "node.log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(tmp / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(tmp / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(tmp / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(tmp / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(tmp / "node.pid"),
        }
        try:
            with open(tmp / "server.out", "wb") as out:
                self._proc = self.procs.popen(
                    [str(self.bin / "rabbitmq-server")],
                    env=self._env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
                )  # fmt: skip
            self.pid = self._prove(tmp)
            _PROVEN[self.url] = self.pid
        except BaseException:
            self.stop()
            raise
        return self

    def _prove(self, tmp: Path) -> int:
        """Wait for the node; its beam must be a process started here and hold our port."""
        assert self._proc is not None
        deadline = time.monotonic() + self.timeout
        while True:
            if self._proc.poll() is not None:
                raise RabbitError(
                    f"rabbitmq-server exited with code {self._proc.returncode} before it was "
                    f"up: {_tail(tmp / 'server.out')}"
                )
            if self._ctl("await_startup", "-t", "2", timeout=10).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RabbitError(f"node {self.node} not up within {self.timeout:.0f} s")
        got = self._ctl("eval", "os:getpid().")
        try:
            pid = int(got.stdout.strip().strip('"'))
        except ValueError:
            raise RabbitError(f"node {self.node}: no pid ({got.stderr.strip()[-300:]})") from None
        ours = {p.pid for p in psutil.Process(self._proc.pid).children(recursive=True)}
        if pid != self._proc.pid and pid not in ours:
            raise RabbitError(
                f"node {self.node} answers with pid {pid}, not a process started here "
                f"({self._proc.pid} and its children): refusing to use it"
            )
        listening = {c.laddr.port for c in psutil.Process(pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN}  # fmt: skip
        if self.port not in listening:
            raise RabbitError(
                f"node {self.node} (pid {pid}) does not listen on AMQP port {self.port} "
                f"(it listens on {sorted(listening)}): refusing to use it"
            )
        return pid

    def stop(self) -> None:
        if self.pid is not None:
            _PROVEN.pop(self.url, None)
        self.pid = None
        if self._proc is not None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self._ctl("stop", timeout=30)
            self.procs.stop(self._proc)
            self._proc = None
        if self._env:
            # epmd ran as a daemon (outside the process group): stop the private one.
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(["epmd", "-kill"], env=self._env, capture_output=True, timeout=10)
            self._env = {}
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RabbitServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
        return lines[-1] if lines else "(nothing logged)"
    return "(no log)"
