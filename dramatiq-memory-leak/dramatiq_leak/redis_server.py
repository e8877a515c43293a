"""A private redis-server on a free loopback port: temp dir, no persistence, stopped on exit."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from lab.procs import ProcessGroup, free_port, wait_for_port

INSTALL_HINT = (
    "redis-server not found on PATH: run `make setup` from the repository root "
    "(it installs Debian's redis-server) or `apt-get install redis-server`"
)


class RedisNotFound(RuntimeError):
    pass


def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RedisNotFound(INSTALL_HINT)
    return path


class RedisServer:
    """``with RedisServer(procs) as r: r.url`` — started on enter, stopped on exit.

    The process goes through ``procs`` (a :class:`lab.procs.ProcessGroup`), so it
    never outlives the run, even on Ctrl-C or ``kill -9`` of the parent.
    """

    def __init__(self, procs: ProcessGroup, binary: str | None = None) -> None:
        self.procs = procs
        self.binary = binary or redis_binary()
        self.port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="dleak-redis-")
        self.port = free_port()
        log = Path(self._tmp.name) / "redis.log"
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self._tmp.name,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(log),
        ]  # fmt: skip
        with open(log.with_suffix(".out"), "wb") as out:
            self._proc = self.procs.popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout=10, proc=self._proc)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
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
