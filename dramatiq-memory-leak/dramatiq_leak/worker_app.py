"""The broker and actors the workers run: ``dramatiq dramatiq_leak.worker_app``.

Configured by environment variables (set by the harness):

``DLEAK_BROKER_URL`` unix:///PATH/redis.sock?db=0 or redis://127.0.0.1:PORT/0 (Redis), or
                     amqp://guest:guest@127.0.0.1:PORT/%2F (RabbitMQ) (required)
``DLEAK_BROKER_PID`` pid of the harness's own broker, set only for one it started and proved
                     (``client.py --flush`` needs it)
``DLEAK_QUEUE``      queue name (default ``leak``)
``DLEAK_EXTRA``      ``none`` | ``fix`` (:class:`~dramatiq_async_exc_fix.BreakAsyncioCycle`) |
                     ``gc`` (:class:`ForceCollectAfterFailure`, the original study's remedy)
``DLEAK_PROBE``      path of the probe's JSON-lines file (optional)
``DLEAK_LEDGER``     path of the probe's ledger: each message's outcome, written before it is
                     acknowledged (crash cells)
``DLEAK_HEARTBEAT_MS`` the broker's heartbeat timeout (crash cells: a dead worker's unacked
                     messages go back to the queue this long after its last heartbeat)
``DLEAK_MAINTENANCE_CHANCE`` commands per million that run the broker's queue maintenance

Imports only the standard library, dramatiq, redis and the fix distribution
(``dramatiq-memory-leak/fix``, on ``PYTHONPATH``), so it runs in each variant's own environment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import Any

import dramatiq
from dramatiq.asyncio import async_to_sync
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware
from dramatiq_async_exc_fix import BreakAsyncioCycle

from dramatiq_leak import probe as _probe

MB = 1 << 20
PAGE = 4096
#: The original study's retry policy: retries every 50-100 ms, practically forever.
RETRY_OPTIONS: dict[str, int] = {"max_retries": 1_000_000, "min_backoff": 50, "max_backoff": 100}
EXTRAS = ("none", "fix", "gc")


def written_buffer(mb: int) -> bytearray:
    """``mb`` MiB whose every page has been written, so it counts in RSS.

    ``bytes(n)`` would come from ``calloc``: fresh zero pages the kernel maps
    lazily, invisible in RSS until written (the original's follow-up tests made
    that mistake). One byte per page is enough to make every page resident.
    """
    buf = bytearray(mb * MB)
    buf[::PAGE] = b"\x01" * len(range(0, len(buf), PAGE))
    return buf


class BigError(Exception):
    """An exception that holds a big buffer; every instance is tracked by the probe.

    The buffer is an attribute, not an argument: its repr would otherwise end up
    in every logged traceback (and in the retry message stored in Redis).
    """

    def __init__(self, payload: bytearray) -> None:
        super().__init__(f"failure holding {len(payload) / MB:.0f} MiB")
        self.payload = payload
        _probe.track(self)


class InnerError(BigError):
    pass


class OuterError(BigError):
    pass


class ForceCollectAfterFailure(Middleware):
    """The original study's remedy: a full ``gc.collect()`` after every failed message.

    Measured here for its cost; :class:`~dramatiq_async_exc_fix.BreakAsyncioCycle` is the fix.
    It runs while the current exception is still referenced by the worker, so it frees
    the previous failure's memory, not the current one's.
    """

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is not None:
            gc.collect()


def _config() -> tuple[str, str, str, str | None]:
    url = os.environ.get("DLEAK_BROKER_URL")
    if not url:
        raise RuntimeError(
            "DLEAK_BROKER_URL is not set (e.g. redis://127.0.0.1:6379/0 or amqp://...)"
        )
    extra = os.environ.get("DLEAK_EXTRA", "none")
    if extra not in EXTRAS:
        raise RuntimeError(f"DLEAK_EXTRA={extra!r}: expected one of {', '.join(EXTRAS)}")
    return url, os.environ.get("DLEAK_QUEUE", "leak"), extra, os.environ.get("DLEAK_PROBE")


BROKER_URL, QUEUE, EXTRA, PROBE_PATH = _config()

_BROKER_OPTIONS = {
    key: int(os.environ[var])
    for key, var in (
        ("heartbeat_timeout", "DLEAK_HEARTBEAT_MS"),
        ("maintenance_chance", "DLEAK_MAINTENANCE_CHANCE"),
    )
    if os.environ.get(var)
}
if BROKER_URL.startswith("amqp://"):
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker: Any = RabbitmqBroker(url=BROKER_URL)
else:
    broker = RedisBroker(url=BROKER_URL, **_BROKER_OPTIONS)
broker.add_middleware(AsyncIO())
if EXTRA == "fix":
    broker.add_middleware(BreakAsyncioCycle())
elif EXTRA == "gc":
    broker.add_middleware(ForceCollectAfterFailure())
probe = _probe.Probe(PROBE_PATH, ledger=os.environ.get("DLEAK_LEDGER") or None)
broker.add_middleware(probe)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, **RETRY_OPTIONS)
async def fail_async(mb: int) -> None:
    """The original's case: an async actor raising an exception that holds ``mb`` MiB."""
    big = written_buffer(mb)
    raise BigError(big)


@dramatiq.actor(queue_name=QUEUE, **RETRY_OPTIONS)
async def fail_async_chained(mb: int) -> None:
    """``raise Outer(big) from Inner(big)``: two exceptions, ``mb`` MiB each."""
    raise OuterError(written_buffer(mb)) from InnerError(written_buffer(mb))


async def _raise_big(mb: int) -> None:
    raise BigError(written_buffer(mb))


@dramatiq.actor(queue_name=QUEUE, **RETRY_OPTIONS)
async def fail_async_taskgroup(mb: int) -> None:
    """A child task of an ``asyncio.TaskGroup`` raises: the actor fails with an ExceptionGroup
    holding the ``mb`` MiB exception (Python 3.11+)."""
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_raise_big(mb))


@dramatiq.actor(queue_name=QUEUE, **RETRY_OPTIONS)
async def fail_async_reraise(mb: int) -> None:
    """The common handler shape: catch, log, re-raise the same exception (bare ``raise``)."""
    try:
        await _raise_big(mb)
    except BigError:
        logging.getLogger("dramatiq_leak").debug("re-raising")
        raise


@dramatiq.actor(queue_name=QUEUE, **RETRY_OPTIONS)
def fail_sync_via_async(mb: int) -> None:
    """A sync actor that runs async code on dramatiq's event-loop thread (``async_to_sync``,
    the same ``run_coroutine`` as async actors) and lets its exception through."""
    async_to_sync(_raise_big)(mb)


@dramatiq.actor(queue_name=QUEUE, **RETRY_OPTIONS)
def fail_sync(mb: int) -> None:
    """Control: the same failure from a sync actor (no event-loop thread involved)."""
    big = written_buffer(mb)
    raise BigError(big)


@dramatiq.actor(queue_name=QUEUE, **RETRY_OPTIONS)
async def sleep_async(mb: int, sleep_ms: int) -> None:
    """Control: an async actor that holds ``mb`` MiB while sleeping, and succeeds."""
    big = written_buffer(mb)
    await asyncio.sleep(sleep_ms / 1000)
    del big


class DesignedFailure(Exception):
    """A crash cell's message that fails on purpose (and goes to the dead-letter queue)."""


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def work(index: int, fail_every: int, ms: int) -> None:
    """Crash cells: ``ms`` milliseconds of work; message ``index`` fails when it is a multiple
    of ``fail_every``, so the expected outcome of every message is known in advance."""
    time.sleep(ms / 1000)
    if fail_every and index % fail_every == 0:
        raise DesignedFailure(f"message {index} fails by design")


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def crash_worker(code: int) -> None:
    """Harness self-test only: the worker process dies on the spot, as on a segfault.

    It waits a second first: a worker that dies while the ``dramatiq`` supervisor is
    still starting up can leave the supervisor hung without a word (the harness then
    detects the missing worker process and kills the supervisor, but cannot read the
    exit code from its log).
    """
    time.sleep(1.0)
    os._exit(code)


ACTORS = {
    a.actor_name: a
    for a in (
        fail_async,
        fail_async_chained,
        fail_async_taskgroup,
        fail_async_reraise,
        fail_sync_via_async,
        fail_sync,
        sleep_async,
        work,
        crash_worker,
    )
}
