"""Break the exception reference cycle of dramatiq's AsyncIO middleware, forcing no collection.

When to use it
--------------
Use :class:`BreakAsyncioCycle` if your workers run **dramatiq 1.15.0 up to and
including 2.2.0** with the ``AsyncIO`` middleware and async actors that can raise
while holding large objects (buffers, data frames, responses). On those versions
every exception raised by an async actor is kept alive by a reference cycle::

    exception -> __traceback__ -> ... -> frame of EventLoopThread.run_coroutine
              -> its local ``future`` (concurrent.futures.Future) -> _exception -> exception

so its memory is returned only when CPython's cyclic collector next runs a full
(generation 2) collection, seconds to minutes later: the worker's RSS grows by
the size of each failure's objects and falls back in a sawtooth.

**dramatiq 2.2.1 and later fix this upstream** (``del future`` in a ``finally``
block of ``run_coroutine``): upgrading is the better remedy. The middleware is
harmless there (it finds the frame already emptied) but does nothing useful.

What it does
------------
After a message fails, it walks the traceback of the exception (and of its
``__cause__``/``__context__`` chain) and calls ``frame.clear()`` on the frames of
``EventLoopThread.run_coroutine``, which have already returned. That drops the
frame's locals, among them ``future``, so the exception is freed by reference
counting as soon as the worker lets go of it, with no ``gc.collect()``.
Tracebacks still format normally (file, line, function name); only the local
variables of that one dramatiq-internal frame are gone, which matters only to
error reporters that capture locals.

Usage::

    import dramatiq
    from dramatiq.middleware import AsyncIO
    from dramatiq_leak.fix import BreakAsyncioCycle

    broker.add_middleware(AsyncIO())
    broker.add_middleware(BreakAsyncioCycle())

The module imports nothing but the standard library and dramatiq; copy it into
your project if you prefer not to depend on this package.
"""

from __future__ import annotations

import types
from typing import Any

from dramatiq.middleware import Middleware

__all__ = ["BreakAsyncioCycle", "break_cycle"]


def _run_coroutine_code() -> types.CodeType | None:
    try:
        from dramatiq.asyncio import EventLoopThread
    except ImportError:  # dramatiq < 1.15 has no asyncio support, hence no cycle
        return None
    return EventLoopThread.run_coroutine.__code__


_RUN_COROUTINE = _run_coroutine_code()


def break_cycle(exception: BaseException) -> int:
    """Clear the finished ``run_coroutine`` frames in ``exception``'s tracebacks.

    Follows ``__cause__``, ``__context__`` and exception groups. Returns how many
    frames were cleared (0 when there is nothing to do).
    """
    if _RUN_COROUTINE is None:
        return 0
    cleared = 0
    seen: set[int] = set()
    stack: list[BaseException | None] = [exception]
    while stack:
        exc = stack.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code is _RUN_COROUTINE:
                try:
                    frame.clear()
                    cleared += 1
                except RuntimeError:  # still executing: not ours to clear
                    pass
            tb = tb.tb_next
        stack.append(exc.__cause__)
        stack.append(exc.__context__)
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
    return cleared


class BreakAsyncioCycle(Middleware):
    """Free failed async actors' exceptions at once on dramatiq 1.15-2.2.0 (see module doc)."""

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None:
            break_cycle(exception)
