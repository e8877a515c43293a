"""Free the exceptions of failed async dramatiq actors at once, without forcing a collection.

The problem
-----------
On **dramatiq 1.15.0 up to and including 2.2.0**, with the ``AsyncIO`` middleware, every
exception raised by an async actor is kept alive by a reference cycle::

    exception -> __traceback__ -> ... -> frame of EventLoopThread.run_coroutine
              -> its local ``future`` (concurrent.futures.Future) -> _exception -> exception

Reference counting cannot free a cycle, so the exception and everything it refers to
(buffers, responses, data frames in its arguments, its ``__cause__``/``__context__``, the
actor's frame locals) stay in memory until CPython's cyclic collector runs a collection
of the generation the cycle's objects are in. That is any collection that reaches them,
often a young one: the collector is triggered by counts of container allocations, not by
bytes, so a cycle pinning hundreds of megabytes weighs a few dozen objects and can wait
seconds, or much longer in a worker that allocates few objects. The worker's memory grows
by the size of each failure and drops back in a sawtooth.

dramatiq 2.2.1 fixes that cycle upstream (PR #878: ``del future`` in a ``finally`` of
``run_coroutine``); upgrading is the better remedy.

On Python 3.11 a second cycle of the same kind comes from ``asyncio.TaskGroup``: the
``BaseExceptionGroup`` it raises is a local (``me``) of the finished ``__aexit__`` frame
found in the group's own traceback, and the TaskGroup (a local of the actor) still points
at its parent task, whose exception is the group. Upgrading dramatiq does not touch it;
later CPython patch releases do (3.13.5 clears both in ``__aexit__``'s ``finally``).

What this does
--------------
:class:`BreakAsyncioCycle` is a middleware. After a message fails it walks the traceback
of the exception, of its ``__cause__``/``__context__`` chain and of the members of
exception groups, and calls ``frame.clear()`` on the frames that close those cycles, and
on no other frame:

- ``run_coroutine`` of ``dramatiq.asyncio`` (found by module and function name, so a
  wrapped or instrumented ``run_coroutine`` is still found: the original's frame is in the
  traceback, below the wrapper's);
- ``__aexit__`` / ``_aexit`` of ``asyncio.taskgroups``; the finished TaskGroup found there
  also drops its ``_parent_task`` and ``_errors``, as newer CPython does itself.

Only those frames, which have returned, lose their local variables. The traceback chain is
untouched: ``traceback.format_exception`` prints every entry with its file, line and code,
so dramatiq's ``Retries`` middleware (``message.options["traceback"]``), results backends
and loggers see the same text as before. Error reporters that capture local variables
see none for those dramatiq- and asyncio-internal frames.

If an async actor's exception reaches the middleware without a ``run_coroutine`` frame of
``dramatiq.asyncio`` in its traceback (``run_coroutine`` was replaced by code outside that
module), the middleware cannot find the cycle: it says so once with a ``RuntimeWarning``
instead of silently doing nothing.

Usage::

    from dramatiq_async_exc_fix import BreakAsyncioCycle

    broker.add_middleware(BreakAsyncioCycle())   # with the AsyncIO middleware

No collection is ever forced.
"""

from __future__ import annotations

import builtins
import inspect
import types
import warnings
from typing import Any

from dramatiq.middleware import Middleware

__all__ = ["BreakAsyncioCycle", "NoCycleFrameWarning", "break_cycle", "cycle_frames"]
__version__ = "0.1.0"

#: ``BaseExceptionGroup`` exists from Python 3.11 on; on 3.10 there are no groups to follow.
_BASE_EXCEPTION_GROUP: type[BaseException] | None = getattr(builtins, "BaseExceptionGroup", None)

#: (module, function) of the frames that close a cycle once they have returned.
RUN_COROUTINE = ("dramatiq.asyncio", "run_coroutine")
TASKGROUP_EXITS = (("asyncio.taskgroups", "__aexit__"), ("asyncio.taskgroups", "_aexit"))
CYCLE_FRAMES = (RUN_COROUTINE, *TASKGROUP_EXITS)


class NoCycleFrameWarning(RuntimeWarning):
    """An async actor failed but no ``dramatiq.asyncio`` ``run_coroutine`` frame was found."""


def _where(frame: types.FrameType) -> tuple[str, str]:
    return frame.f_globals.get("__name__", ""), frame.f_code.co_name


def _chain(exception: BaseException) -> list[BaseException]:
    """``exception``, its causes and contexts, and group members, each once."""
    out: list[BaseException] = []
    seen: set[int] = set()
    stack: list[BaseException | None] = [exception]
    while stack:
        exc = stack.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        out.append(exc)
        stack.append(exc.__cause__)
        stack.append(exc.__context__)
        if _BASE_EXCEPTION_GROUP is not None and isinstance(exc, _BASE_EXCEPTION_GROUP):
            stack.extend(exc.exceptions)  # type: ignore[attr-defined]
    return out


def cycle_frames(exception: BaseException) -> list[types.FrameType]:
    """The frames in ``exception``'s tracebacks (chain and groups included) that close a cycle.

    Each frame once, in traceback order; only frames of :data:`CYCLE_FRAMES`.
    """
    frames: list[types.FrameType] = []
    seen: set[int] = set()
    for exc in _chain(exception):
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if id(frame) not in seen and _where(frame) in CYCLE_FRAMES:
                seen.add(id(frame))
                frames.append(frame)
            tb = tb.tb_next
    return frames


def break_cycle(exception: BaseException) -> tuple[int, bool]:
    """Clear the returned frames that keep ``exception`` in a cycle.

    Returns ``(frames cleared, whether a run_coroutine frame was found)``. A frame that is
    still executing is left alone (``frame.clear()`` refuses it).
    """
    cleared = 0
    found_run_coroutine = False
    for frame in cycle_frames(exception):
        if _where(frame) == RUN_COROUTINE:
            found_run_coroutine = True
        else:
            _release_task_group(frame)
        try:
            frame.clear()
        except RuntimeError:  # still executing: not ours to clear
            continue
        cleared += 1
    return cleared, found_run_coroutine


def _release_task_group(frame: types.FrameType) -> None:
    """Drop the finished TaskGroup's references to its parent task and errors.

    What CPython's own ``TaskGroup.__aexit__`` does in its ``finally`` from 3.13.x / 3.12.x
    patch releases on: the parent task holds the raised group as its exception, and the
    TaskGroup is a local of the actor's frame, which is in the group's traceback.
    """
    local_vars = frame.f_locals
    group = local_vars.get("self")
    if type(local_vars) is dict:
        # Python < 3.13: f_locals is a snapshot the frame keeps (it holds the raised group in
        # "me") and frame.clear() does not drop it.
        local_vars.clear()
    del local_vars
    try:
        from asyncio import TaskGroup  # Python 3.11+
    except ImportError:  # pragma: no cover - 3.10 has no TaskGroup
        return
    if isinstance(group, TaskGroup):
        for name in ("_parent_task", "_errors", "_base_error"):
            if hasattr(group, name):
                setattr(group, name, None)


def _is_async_actor(broker: Any, message: Any) -> bool:
    try:
        fn = broker.get_actor(message.actor_name).fn
    except Exception:  # unknown actor: dramatiq reports that itself
        return False
    return inspect.iscoroutinefunction(inspect.unwrap(fn))


class BreakAsyncioCycle(Middleware):
    """Free failed async actors' exceptions by reference counting (see the module doc)."""

    def __init__(self) -> None:
        self.warned = False

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        _, found = break_cycle(exception)
        if not found and not self.warned and _is_async_actor(broker, message):
            self.warned = True
            warnings.warn(
                f"dramatiq_async_exc_fix: async actor {message.actor_name!r} failed but no "
                "run_coroutine frame of dramatiq.asyncio is in its exception's traceback "
                "(was EventLoopThread.run_coroutine replaced?); BreakAsyncioCycle cannot break "
                "the cycle, failed messages' memory waits for the garbage collector. "
                "This warning is shown once.",
                NoCycleFrameWarning,
                stacklevel=2,
            )
