"""ringloop: an asyncio event loop whose core runs in C++ on io_uring.

import ringloop
ringloop.run(main())                    # like asyncio.run, on a ringloop.Loop
loop = ringloop.new_event_loop()        # like asyncio.new_event_loop
asyncio.set_event_loop_policy(ringloop.EventLoopPolicy())
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ringloop._core import Handle, TimerHandle
from ringloop._loop import Loop

__all__ = ["EventLoopPolicy", "Handle", "Loop", "TimerHandle", "new_event_loop", "run"]
__version__ = "0.1.0"

_T = TypeVar("_T")


def new_event_loop() -> Loop:
    """A new ringloop event loop (raises OSError naming io_uring where the kernel has none)."""
    return Loop()


def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """Run a coroutine on a new ringloop loop and close it, as asyncio.run does."""
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """asyncio's default policy, creating ringloop loops."""

    def _loop_factory(self) -> Loop:  # type: ignore[override]
        return new_event_loop()
