"""In-worker instrumentation: every GC run, every processed message, live big exceptions.

Loaded by :mod:`dramatiq_leak.worker_app` inside the worker process. It imports
only the standard library and dramatiq. Events are queued in memory (a GC
callback must not do I/O: it can fire in the middle of a buffered write) and a
flusher thread appends them as JSON lines to the probe file every 100 ms:

``{"ev": "boot", "t": ..., "pid": ..., "dramatiq": "2.2.0", "gc_threshold": [...]}``
``{"ev": "gc", "t": ..., "gen": 2, "collected": 5, "uncollectable": 0, "dur": 0.0012}``
``{"ev": "msg", "t": ..., "id": "<message id>", "ok": false}``
``{"ev": "tick", "t": ..., "live": 3, "attempts": 40, "failures": 40, "ok": 0}``

Times are ``time.monotonic()`` (CLOCK_MONOTONIC: the same clock in every process
of the machine, so the harness can line them up with its RSS samples).

A worker killed with SIGKILL loses what the flusher has not written yet. The *ledger*
(``Probe(ledger=PATH)``, crash cells) is for that: each message's ``msg`` line is written
there with one ``write()`` in ``after_process_message``, which dramatiq runs before it
acknowledges the message, so every acknowledged message is in the ledger whatever kills
the process afterwards.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import platform
import threading
import time
import weakref
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

__all__ = ["Probe", "live_count", "track"]

_live_refs: set[weakref.ref] = set()


def track(obj: object) -> None:
    """Count ``obj`` as live until it is freed (a weak reference, never keeps it alive)."""
    _live_refs.add(weakref.ref(obj, _live_refs.discard))


def live_count() -> int:
    """How many tracked objects are alive right now."""
    return len(_live_refs)


def live_objects() -> list[Any]:
    """The tracked objects still alive (strong references: drop the list when done)."""
    return [obj for obj in (r() for r in list(_live_refs)) if obj is not None]


class Probe(Middleware):
    """Counts attempts, records GC runs and live exceptions; writes them to ``path`` if given."""

    def __init__(
        self, path: str | None = None, interval: float = 0.1, ledger: str | None = None
    ) -> None:
        self.path = path
        self._ledger = (
            os.open(ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if ledger else None
        )
        self.interval = interval
        self.attempts = 0
        self.failures = 0
        self.succeeded = 0
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._gc_start: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- GC ---------------------------------------------------------------------------------
    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._gc_start[threading.get_ident()] = now
            return
        began = self._gc_start.pop(threading.get_ident(), now)
        self._events.append(
            {
                "ev": "gc",
                "t": now,
                "gen": info["generation"],
                "collected": info["collected"],
                "uncollectable": info["uncollectable"],
                "dur": now - began,
            }
        )

    # -- dramatiq hooks -----------------------------------------------------------------------
    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        gc.callbacks.append(self._on_gc)
        self._events.append(
            {
                "ev": "boot",
                "t": time.monotonic(),
                "pid": os.getpid(),
                "dramatiq": dramatiq.__version__,
                "python": platform.python_version(),
                "gc_threshold": list(gc.get_threshold()),
                "gc_enabled": gc.isenabled(),
                "middleware": [type(m).__name__ for m in broker.middleware],
            }
        )
        if self.path:
            self._thread = threading.Thread(target=self._flush_loop, name="probe", daemon=True)
            self._thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._events.append({"ev": "shutdown", "t": time.monotonic()})

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        # After the worker threads are joined: messages finished during the graceful
        # shutdown are recorded too (the harness accounts for every message).
        self.stop()

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        with self._lock:
            self.attempts += 1
            if exception is None:
                self.succeeded += 1
            else:
                self.failures += 1
        event = {
            "ev": "msg",
            "t": time.monotonic(),
            "id": message.message_id,
            "ok": exception is None,
        }
        if self._ledger is not None:  # before dramatiq acknowledges the message
            os.write(self._ledger, (json.dumps(event) + "\n").encode())
        self._events.append(event)

    # -- output -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the flusher and write what is pending (idempotent)."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
            self._thread = None

    def _tick(self) -> dict[str, Any]:
        return {
            "ev": "tick",
            "t": time.monotonic(),
            "live": live_count(),
            "attempts": self.attempts,
            "failures": self.failures,
            "ok": self.succeeded,
        }

    def _flush_loop(self) -> None:
        assert self.path is not None
        with open(self.path, "a", encoding="utf-8") as out:
            while True:
                stopping = self._stop.wait(self.interval)
                self._events.append(self._tick())
                while self._events:
                    out.write(json.dumps(self._events.popleft()) + "\n")
                out.flush()
                if stopping:
                    return
