"""ringloop's native core: scheduling, timers, readiness, errors, and asyncio running on it."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import signal
import socket
import sys
import threading
import time
import weakref
from typing import Any

import pytest
import ringloop


def tick(loop: ringloop.Loop) -> None:
    """One iteration that does not block: a ready callback makes the wait a poll."""
    loop.call_soon(lambda: None)
    loop._run_once()


def run_briefly(loop: ringloop.Loop, iterations: int = 3) -> None:
    for _ in range(iterations):
        tick(loop)


# -- scheduling


def test_call_soon_runs_in_order_with_args(loop: ringloop.Loop) -> None:
    seen: list[Any] = []
    for i in range(5):
        loop.call_soon(seen.append, i)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [0, 1, 2, 3, 4]


def test_callbacks_scheduled_while_running_wait_for_the_next_iteration(
    loop: ringloop.Loop,
) -> None:
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        loop.call_soon(seen.append, "scheduled by first")

    loop.call_soon(first)
    loop.call_soon(seen.append, "second")
    tick(loop)
    assert seen == ["first", "second"]
    tick(loop)
    assert seen == ["first", "second", "scheduled by first"]


def test_handles_are_cancelled_and_never_run(loop: ringloop.Loop) -> None:
    seen: list[int] = []
    h = loop.call_soon(seen.append, 1)
    assert isinstance(h, ringloop.Handle) and not h.cancelled()
    h.cancel()
    h.cancel()  # twice is fine
    assert h.cancelled()
    run_briefly(loop)
    assert seen == []


def test_call_soon_runs_in_the_given_context(loop: ringloop.Loop) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    ctx = contextvars.copy_context()
    ctx.run(var.set, "in ctx")
    seen: list[str] = []
    loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    var.set("caller")
    loop.call_soon(lambda: seen.append(var.get()))  # a copy of the caller's context
    var.set("changed after")
    run_briefly(loop)
    assert seen == ["in ctx", "caller"]
    h = loop.call_soon(print, context=ctx)
    assert h.get_context() is ctx


def test_bad_arguments_are_errors(loop: ringloop.Loop) -> None:
    with pytest.raises(TypeError):
        loop.call_soon(42)
    with pytest.raises(TypeError):
        loop.call_soon(print, context="not a context")
    with pytest.raises(TypeError):
        loop.call_soon(print, nope=1)
    with pytest.raises(TypeError):
        loop.call_later(None, print)
    with pytest.raises(TypeError):
        loop.call_at(None, print)
    with pytest.raises(TypeError):
        loop.call_later("soon", print)


def test_debug_mode_refuses_coroutine_functions(loop: ringloop.Loop) -> None:
    async def coro() -> None:
        pass

    loop.set_debug(True)
    assert loop.get_debug() and loop._debug
    with pytest.raises(TypeError, match="coroutines cannot be used"):
        loop.call_soon(coro)
    loop.set_debug(False)


# -- timers


def test_timers_run_in_time_order_and_not_early(loop: ringloop.Loop) -> None:
    seen: list[tuple[str, float]] = []
    start = loop.time()
    for name, delay in (("c", 0.06), ("a", 0.02), ("b", 0.04)):
        loop.call_later(delay, lambda n=name: seen.append((n, loop.time() - start)))
    loop.call_later(0.08, loop.stop)
    loop.run_forever()
    assert [n for n, _ in seen] == ["a", "b", "c"]
    for (_, at), due in zip(seen, (0.02, 0.04, 0.06), strict=True):
        assert at >= due - 1e-3


def test_timer_handle_reports_when_and_can_be_cancelled(loop: ringloop.Loop) -> None:
    seen: list[int] = []
    when = loop.time() + 0.01
    h = loop.call_at(when, seen.append, 1)
    assert isinstance(h, ringloop.TimerHandle) and h.when() == when
    h.cancel()
    loop.call_later(0.03, loop.stop)
    loop.run_forever()
    assert seen == []
    assert loop._stats()["timers"] == 0


def test_many_cancelled_timers_are_dropped_from_the_heap(loop: ringloop.Loop) -> None:
    handles = [loop.call_later(3600, print) for _ in range(1000)]
    probe = handles[0]
    held = sys.getrefcount(probe)  # ours, the list's and the heap's
    for h in handles[:900]:
        h.cancel()
    tick(loop)
    assert loop._stats()["timers"] == 100
    assert sys.getrefcount(probe) == held - 1  # the rebuilt heap let go of it


def test_loop_time_is_monotonic_clock(loop: ringloop.Loop) -> None:
    a = time.monotonic()
    b = loop.time()
    c = time.monotonic()
    assert a <= b <= c


# -- threads and wake-ups


def test_call_soon_threadsafe_wakes_a_blocked_loop(loop: ringloop.Loop) -> None:
    seen: list[str] = []

    def other_thread() -> None:
        time.sleep(0.05)
        loop.call_soon_threadsafe(seen.append, "from thread")
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=other_thread)
    t.start()
    start = time.monotonic()
    loop.run_forever()  # nothing scheduled: blocks until woken
    t.join()
    assert seen == ["from thread"]
    assert time.monotonic() - start < 2


def test_debug_mode_refuses_call_soon_from_another_thread(loop: ringloop.Loop) -> None:
    loop.set_debug(True)
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            loop.call_soon(print)
        except RuntimeError as e:
            errors.append(e)
        loop.call_soon_threadsafe(loop.stop)

    loop.call_soon(threading.Thread(target=other_thread).start)
    loop.run_forever()
    assert errors and "Non-thread-safe" in str(errors[0])


# -- readiness


def test_reader_is_level_triggered_and_removable(loop: ringloop.Loop) -> None:
    a, b = socket.socketpair()
    with a, b:
        calls: list[int] = []
        loop.add_reader(a.fileno(), calls.append, 1)
        run_briefly(loop, 2)
        assert calls == []  # nothing to read
        b.send(b"x")
        run_briefly(loop, 3)
        assert len(calls) >= 2  # not consumed: reported again, as epoll's level mode does
        assert loop.remove_reader(a.fileno()) is True
        assert loop.remove_reader(a.fileno()) is False
        n = len(calls)
        run_briefly(loop, 3)
        assert len(calls) == n


def test_writer_and_reader_on_one_fd(loop: ringloop.Loop) -> None:
    a, b = socket.socketpair()
    with a, b:
        seen: list[str] = []
        loop.add_writer(a, seen.append, "w")
        tick(loop)
        assert seen == ["w"]
        loop.add_reader(a, seen.append, "r")  # widens the watch
        b.send(b"x")
        tick(loop)
        assert seen.count("r") == 1 and seen.count("w") == 2
        loop.remove_writer(a)
        seen.clear()
        tick(loop)
        assert seen == ["r"]
        loop.remove_reader(a)


def test_replacing_a_reader_cancels_the_old_handle(loop: ringloop.Loop) -> None:
    a, b = socket.socketpair()
    with a, b:
        seen: list[str] = []
        loop.add_reader(a, seen.append, "old")
        old = loop._add_reader(a, seen.append, "new")
        assert isinstance(old, ringloop.Handle)
        b.send(b"x")
        tick(loop)
        assert seen == ["new"]
        loop.remove_reader(a)


def test_remove_reader_after_the_event_cancels_the_pending_call(loop: ringloop.Loop) -> None:
    a, b = socket.socketpair()
    with a, b:
        seen: list[str] = []

        def first() -> None:
            seen.append("first")
            loop.remove_reader(a)  # a's callback may already be queued behind this one

        c, d = socket.socketpair()
        with c, d:
            loop.add_reader(c, first)
            loop.add_reader(a, seen.append, "a")
            d.send(b"x")
            b.send(b"x")
            run_briefly(loop, 2)
            loop.remove_reader(c)
        assert "first" in seen and seen.count("a") <= 1


def test_bad_file_descriptors_are_errors(loop: ringloop.Loop) -> None:
    with pytest.raises(ValueError):
        loop.add_reader(-1, print)
    s = socket.socket()
    fd = s.fileno()
    s.close()
    with pytest.raises(OSError):
        loop.add_reader(fd, print)
    with pytest.raises(ValueError, match="Invalid file object"):  # as asyncio says it
        loop.add_reader("not a file", print)


def test_a_closed_fd_number_reused_starts_clean(loop: ringloop.Loop) -> None:
    a, b = socket.socketpair()
    seen: list[str] = []
    loop.add_reader(a, seen.append, "old")
    tick(loop)
    loop.remove_reader(a)
    a.close()
    b.close()
    c, d = socket.socketpair()
    with c, d:
        loop.add_reader(c, seen.append, "new")
        d.send(b"x")
        tick(loop)
        assert seen == ["new"]
        loop.remove_reader(c)


# -- errors


def test_exception_in_a_callback_goes_to_the_exception_handler(loop: ringloop.Loop) -> None:
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def boom() -> None:
        raise ValueError("boom")

    h = loop.call_soon(boom)
    seen: list[int] = []
    loop.call_soon(seen.append, 1)  # the loop goes on
    run_briefly(loop)
    assert seen == [1]
    (ctx,) = contexts
    assert isinstance(ctx["exception"], ValueError) and ctx["handle"] is h
    assert ctx["message"].startswith("Exception in callback")


def test_default_exception_handler_logs(
    loop: ringloop.Loop, caplog: pytest.LogCaptureFixture
) -> None:
    loop.call_soon(lambda: 1 / 0)
    with caplog.at_level("ERROR", logger="asyncio"):
        run_briefly(loop)
    assert "Exception in callback" in caplog.text and "ZeroDivisionError" in caplog.text


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_leave_run_forever(
    loop: ringloop.Loop, exc: type[BaseException]
) -> None:
    def raiser() -> None:
        raise exc

    later: list[int] = []
    loop.call_soon(raiser)
    loop.call_soon(later.append, 1)
    with pytest.raises(exc):
        loop.run_forever()
    assert not loop.is_running()
    loop.call_soon(loop.stop)
    loop.run_forever()  # the loop is still usable; the queued callback ran
    assert later == [1]


def test_closed_loop_refuses_work(loop: ringloop.Loop) -> None:
    loop.close()
    loop.close()  # idempotent
    assert loop.is_closed()
    for call in (
        lambda: loop.call_soon(print),
        lambda: loop.call_later(1, print),
        lambda: loop.call_soon_threadsafe(print),
        loop.run_forever,
        lambda: loop.add_reader(0, print),
    ):
        with pytest.raises(RuntimeError, match="closed"):
            call()
    assert loop.remove_reader(0) is False


def test_running_twice_and_closing_while_running_are_errors(loop: ringloop.Loop) -> None:
    errors: list[str] = []

    def inside() -> None:
        for call in (loop.run_forever, loop.close):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))
        loop.stop()

    loop.call_soon(inside)
    loop.run_forever()
    assert errors == ["This event loop is already running", "Cannot close a running event loop"]


def test_stop_before_run_forever_runs_one_iteration(loop: ringloop.Loop) -> None:
    seen: list[int] = []
    loop.call_soon(seen.append, 1)
    loop.stop()
    loop.run_forever()
    assert seen == [1]
    assert not loop.is_running()


def test_loops_and_handles_are_collected(loop: ringloop.Loop) -> None:
    lp = ringloop.new_event_loop()
    lp.call_soon(print)
    lp.call_later(10, print)
    ref = weakref.ref(lp)
    lp.close()
    del lp
    gc.collect()
    assert ref() is None


def test_an_unclosed_loop_is_collected_with_a_warning() -> None:
    lp = ringloop.new_event_loop()
    lp.call_soon(lp.call_soon, print)  # a cycle: loop -> handle -> bound method -> loop
    ref = weakref.ref(lp)
    del lp
    with pytest.warns(ResourceWarning, match="unclosed event loop"):
        gc.collect()
    assert ref() is None


# -- asyncio on the core


def test_run_runs_tasks_sleep_and_gather() -> None:
    async def main() -> list[int]:
        assert isinstance(asyncio.get_running_loop(), ringloop.Loop)

        async def job(i: int) -> int:
            await asyncio.sleep(0.01 * (3 - i))
            return i

        return await asyncio.gather(*(job(i) for i in range(3)))

    assert ringloop.run(main()) == [0, 1, 2]


def test_run_until_complete_and_errors(loop: ringloop.Loop) -> None:
    async def fail() -> None:
        await asyncio.sleep(0)
        raise LookupError("from a task")

    with pytest.raises(LookupError):
        loop.run_until_complete(fail())
    assert loop.run_until_complete(asyncio.sleep(0, "ok")) == "ok"


def test_wait_for_timeout_and_cancellation(loop: ringloop.Loop) -> None:
    async def main() -> str:
        try:
            await asyncio.wait_for(asyncio.sleep(10), 0.02)
        except TimeoutError:
            return "timed out"
        return "no"

    assert loop.run_until_complete(main()) == "timed out"


def test_policy_makes_ringloop_loops() -> None:
    policy = ringloop.EventLoopPolicy()
    lp = policy.new_event_loop()
    try:
        assert isinstance(lp, ringloop.Loop)
    finally:
        lp.close()


def test_executor_and_getaddrinfo(loop: ringloop.Loop) -> None:
    async def main() -> tuple[int, Any]:
        n = await loop.run_in_executor(None, sum, [1, 2, 3])
        infos = await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        return n, infos[0][4]

    assert loop.run_until_complete(main()) == (6, ("127.0.0.1", 80))
    loop.run_until_complete(loop.shutdown_default_executor())


def test_stream_echo_server_and_client(loop: ringloop.Loop) -> None:
    async def main() -> list[bytes]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        got = []
        for size in (1, 1000, 1_000_000):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            payload = os.urandom(size)
            writer.write(payload)
            await writer.drain()
            got.append(await reader.readexactly(size) == payload)
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return got

    assert loop.run_until_complete(main()) == [True, True, True]


def test_sock_api_echo(loop: ringloop.Loop) -> None:
    async def main() -> bytes:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client = socket.socket()
        client.setblocking(False)
        with listener, client:
            await loop.sock_connect(client, listener.getsockname())
            conn, _ = await loop.sock_accept(listener)
            with conn:
                conn.setblocking(False)
                await loop.sock_sendall(client, b"ping" * 100_000)
                got = bytearray()
                while len(got) < 400_000:
                    got += await loop.sock_recv(conn, 65536)
                return bytes(got[:8])

    assert loop.run_until_complete(main()) == b"pingping"


def test_signal_handler_runs_on_the_loop(loop: ringloop.Loop) -> None:
    got: list[int] = []

    def on_signal(n: int) -> None:
        got.append(n)
        loop.stop()

    loop.add_signal_handler(signal.SIGUSR1, on_signal, signal.SIGUSR1)
    loop.call_later(0.02, os.kill, os.getpid(), signal.SIGUSR1)
    loop.call_later(5, loop.stop)  # a failsafe, not the expected exit
    loop.run_forever()
    assert loop.remove_signal_handler(signal.SIGUSR1)
    assert got == [signal.SIGUSR1]


def test_subprocess_runs(loop: ringloop.Loop) -> None:
    async def main() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print('hi')", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        return out

    asyncio.set_event_loop(loop)  # 3.11/3.12's child watcher looks the loop up
    try:
        assert loop.run_until_complete(main()).strip() == b"hi"
    finally:
        asyncio.set_event_loop(None)


def test_async_generators_are_finalized(loop: ringloop.Loop) -> None:
    closed: list[bool] = []

    async def agen() -> Any:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    async def main() -> None:
        g = agen()
        await g.__anext__()  # left suspended: shutdown_asyncgens must close it

    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert closed == [True]
