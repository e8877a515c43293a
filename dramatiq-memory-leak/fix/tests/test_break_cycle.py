"""BreakAsyncioCycle with the real dramatiq worker machinery (StubBroker + Worker + AsyncIO).

Runs in an environment that has dramatiq and pytest (the workspace's ``test_in_envs.py``
builds one per dramatiq version and interpreter and runs this file there). The cyclic
collector is disabled during each run, so an exception still alive afterwards is kept by a
reference cycle (or a live reference), never merely "not collected yet".
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import importlib.util
import inspect
import logging
import sys
import traceback
import uuid
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import dramatiq
import dramatiq_async_exc_fix as fix
import pytest
from dramatiq.asyncio import EventLoopThread, async_to_sync
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware, Retries
from dramatiq_async_exc_fix import BreakAsyncioCycle, NoCycleFrameWarning

DRAMATIQ = tuple(int(x) for x in dramatiq.__version__.split(".")[:3])
#: dramatiq 2.2.1 deletes ``future`` in run_coroutine (PR #878): no cycle there any more.
UPSTREAM_FIXED = DRAMATIQ >= (2, 2, 1)
HAS_TASKGROUP = sys.version_info >= (3, 11)

_alive: list[weakref.ref[BaseException]] = []


class BigError(Exception):
    """Tracked by a weak reference: counts as alive until freed."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        _alive.append(weakref.ref(self))


def alive() -> int:
    return sum(1 for r in _alive if r() is not None)


class Capture(Middleware):
    """Runs after Retries (added before it: ``after_*`` hooks run in reverse order)."""

    def __init__(self) -> None:
        self.tracebacks: list[str] = []
        self.formatted: list[str] = []

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is not None:
            self.tracebacks.append(message.options.get("traceback", ""))
            self.formatted.append("".join(traceback.format_exception(exception)))


@pytest.fixture
def run_actor() -> Iterator[Callable[..., dict[str, Any]]]:
    """``run(fn, fix=True, retries=0)``: one message to async ``fn``, processed with gc off."""
    logging.disable(logging.CRITICAL)  # a LogRecord with exc_info would hold the exception
    # The StubBroker keeps dead-lettered messages' exceptions for join(fail_fast=True); use the
    # real brokers' clear_exception, as dramatiq's own leak test does.
    patch = mock.patch(
        "dramatiq.brokers.stub._StubMessageProxy.clear_exception",
        new=MessageProxy.clear_exception,
    )
    patch.start()

    def run(fn: Callable[..., Any], *, use_fix: bool = True, retries: int = 0) -> dict[str, Any]:
        _alive.clear()
        broker = StubBroker()
        broker.add_middleware(AsyncIO())
        capture = Capture()
        broker.add_middleware(capture, before=Retries)
        if use_fix:
            broker.add_middleware(BreakAsyncioCycle())
        actor = dramatiq.actor(
            fn,
            broker=broker,
            actor_name=f"{fn.__name__}_{uuid.uuid4().hex[:8]}",
            max_retries=retries,
            min_backoff=1,
            max_backoff=1,
        )
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=10)
        gc.disable()
        try:
            worker.start()
            try:
                actor.send()
                broker.join(actor.queue_name, fail_fast=False)
                worker.join()
            finally:
                worker.stop()
            return {"raised": len(_alive), "alive": alive(), "capture": capture}
        finally:
            gc.enable()

    yield run
    patch.stop()
    logging.disable(logging.NOTSET)


async def plain() -> None:
    raise BigError("plain")


async def chained() -> None:
    raise BigError("outer") from BigError("inner")


async def implicit_context() -> None:
    try:
        raise BigError("first")
    except BigError:
        raise BigError("second")  # noqa: B904 - the implicit __context__ is the point


def sync_raises_from_async_cause() -> None:
    """The cycle is reachable only through ``__cause__``: a sync actor wraps an async call."""
    try:
        async_to_sync(plain)()
    except BigError as exc:
        raise RuntimeError("wrapped") from exc


def sync_raises_from_async_context() -> None:
    """... or only through ``__context__``."""
    try:
        async_to_sync(plain)()
    except BigError:
        raise RuntimeError("while handling")  # noqa: B904 - the implicit __context__ is the point


async def _child() -> None:
    raise BigError("child task")


async def task_group() -> None:
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_child())
        tg.create_task(_child())


async def raised_group() -> None:
    raise ExceptionGroup("two", [BigError("a"), BigError("b")])


def test_affected_versions_keep_the_exception_without_the_fix(run_actor) -> None:
    """The test can fail: without the middleware, 2.2.0 keeps it (2.2.1 does not)."""
    got = run_actor(plain, use_fix=False)
    assert got["raised"] == 1
    assert got["alive"] == (0 if UPSTREAM_FIXED else 1)


@pytest.mark.parametrize("fn", [plain, chained, implicit_context], ids=lambda f: f.__name__)
def test_exception_from_async_actor_is_freed_without_gc(run_actor, fn) -> None:
    got = run_actor(fn, retries=1)  # first run + one retry
    assert got["raised"] >= 2
    assert got["alive"] == 0


@pytest.mark.parametrize(
    "fn", [sync_raises_from_async_cause, sync_raises_from_async_context], ids=lambda f: f.__name__
)
def test_cycle_reached_only_through_the_chain_is_broken(run_actor, fn) -> None:
    if not UPSTREAM_FIXED:  # the test can fail: the inner exception is in the cycle
        assert run_actor(fn, use_fix=False)["alive"] == 1
    got = run_actor(fn)
    assert got["raised"] == 1
    assert got["alive"] == 0


def test_implicit_context_is_the_chain_we_think() -> None:
    try:
        asyncio.run(implicit_context())
    except BigError as exc:
        assert isinstance(exc.__context__, BigError) and exc.__cause__ is None
        assert len(fix._chain(exc)) == 2  # second and first (its context)


@pytest.mark.skipif(not HAS_TASKGROUP, reason="ExceptionGroup and TaskGroup are Python 3.11+")
@pytest.mark.parametrize("fn", [task_group, raised_group], ids=lambda f: f.__name__)
def test_exception_groups_are_freed(run_actor, fn) -> None:
    got = run_actor(fn)
    assert got["raised"] == 2
    assert got["alive"] == 0


@pytest.mark.skipif(not HAS_TASKGROUP, reason="TaskGroup is Python 3.11+")
def test_task_group_without_the_fix(run_actor) -> None:
    """What upgrading dramatiq alone gives for TaskGroup errors: recorded, per interpreter."""
    got = run_actor(task_group, use_fix=False)
    assert got["raised"] == 2
    # Python 3.11 (and 3.12.1, 3.13.0) keeps the group in the finished TaskGroup.__aexit__ frame
    # (local `me`) and in the TaskGroup's parent task, whatever the dramatiq version; later
    # CPython patch releases (3.13.5 here) drop both in __aexit__'s `finally`.
    cpython_fixed = "self._parent_task = None" in inspect.getsource(asyncio.TaskGroup.__aexit__)
    assert got["alive"] == (0 if UPSTREAM_FIXED and cpython_fixed else 2)


def test_retries_and_formatting_still_see_the_whole_traceback(run_actor) -> None:
    got = run_actor(plain, retries=1)
    capture = got["capture"]
    assert len(capture.tracebacks) == 2
    first_retry = capture.tracebacks[0]
    assert "in plain" in first_retry and 'raise BigError("plain")' in first_retry
    assert "run_coroutine" in first_retry
    for text in capture.formatted:
        assert "in plain" in text and "in run_coroutine" in text and "in process_message" in text


@pytest.fixture
def wrapped_run_coroutine() -> Iterator[None]:
    original = EventLoopThread.run_coroutine

    def traced(self: EventLoopThread, coro: Any) -> Any:  # e.g. an APM's instrumentation
        return original(self, coro)

    EventLoopThread.run_coroutine = traced  # type: ignore[method-assign]
    try:
        yield
    finally:
        EventLoopThread.run_coroutine = original  # type: ignore[method-assign]


def test_wrapped_run_coroutine_is_still_found(run_actor, wrapped_run_coroutine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoCycleFrameWarning)
        got = run_actor(plain)
    assert got["alive"] == 0


@pytest.fixture
def replaced_run_coroutine() -> Iterator[None]:
    """run_coroutine re-implemented outside dramatiq.asyncio, with the same cycle."""
    original = EventLoopThread.run_coroutine

    def run_coroutine(self: EventLoopThread, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    EventLoopThread.run_coroutine = run_coroutine  # type: ignore[method-assign]
    try:
        yield
    finally:
        EventLoopThread.run_coroutine = original  # type: ignore[method-assign]


def test_replaced_run_coroutine_warns_once(run_actor, replaced_run_coroutine) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run_actor(plain, retries=1)  # two failures, one warning per middleware
    ours = [w for w in seen if issubclass(w.category, NoCycleFrameWarning)]
    assert len(ours) == 1, [str(w.message) for w in seen]
    assert "no run_coroutine frame of dramatiq.asyncio" in str(ours[0].message)


def test_sync_actor_failures_do_not_warn(run_actor) -> None:
    def sync_fail() -> None:
        raise BigError("sync")

    with warnings.catch_warnings():
        warnings.simplefilter("error", NoCycleFrameWarning)
        got = run_actor(sync_fail)
    assert got["alive"] == 0


def test_without_exception_groups_as_on_python_3_10(monkeypatch) -> None:
    """Python 3.10 has no BaseExceptionGroup: the module imports and follows chains only."""
    monkeypatch.delattr(builtins, "BaseExceptionGroup", raising=False)
    spec = importlib.util.spec_from_file_location("fix_as_on_310", fix.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.undo()
    assert module._BASE_EXCEPTION_GROUP is None
    try:
        raise BigError("outer") from BigError("inner")
    except BigError as exc:
        assert len(module._chain(exc)) == 2
        assert module.break_cycle(exc) == (0, False)
