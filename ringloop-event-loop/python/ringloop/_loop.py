"""ringloop.Loop: the native core (ringloop._core.Loop) under asyncio's Unix event loop API.

What runs natively: call_soon / call_soon_threadsafe / call_later / call_at and their handles,
the timer heap, the ready queue, the run loop, and readiness (add_reader / add_writer and the
private _add_reader & co. that asyncio's transports use), all waiting on one io_uring.

The stream-socket transport (what create_server, create_connection, connect_accepted_socket
and the streams give a protocol, TCP and Unix) is native too: ringloop._core.SocketTransport,
receiving with multishot recv into provided buffers and sending queued writes in one request.

What is asyncio's own code, running on that core: servers' accept loops, sock_* methods,
streams (over the native transport), TLS (sslproto, over the native transport), UDP,
subprocesses, signal handlers, executors, async generator shutdown.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from asyncio import base_events, constants, events, futures, trsock
from typing import Any

from ringloop import _core

__all__ = ["Loop"]

# asyncio's sendfile() falls back to reading the file and writing it through the transport.
_core.SocketTransport._sendfile_compatible = constants._SendfileMode.FALLBACK
# loop.start_tls() puts asyncio's SSLProtocol (a BufferedProtocol) on the native transport.
_core.SocketTransport._start_tls_compatible = True
_ATTACH_TAKES_TRANSPORT = sys.version_info >= (3, 13)  # Server._attach(transport) since 3.13


class Loop(_core.Loop, asyncio.SelectorEventLoop):  # type: ignore[misc]
    """An asyncio event loop whose scheduler and readiness run in C++ on io_uring."""

    def __init__(self) -> None:
        super().__init__()

    # -- debug mode: asyncio's Python code reads self._debug, the core its own flag
    def set_debug(self, enabled: bool) -> None:
        asyncio.BaseEventLoop.set_debug(self, enabled)
        _core.Loop.set_debug(self, enabled)

    # The readiness primitives asyncio's transports call (_add_reader & co.) are the core's;
    # the public add_reader & co. are asyncio's, which check that no transport owns the fd.
    # asyncio's selector is created but never used.

    def _make_socket_transport(
        self,
        sock: socket.socket,
        protocol: Any,
        waiter: Any = None,
        *,
        extra: dict[str, Any] | None = None,
        server: Any = None,
    ) -> Any:
        # What asyncio's _SelectorSocketTransport.__init__ does, around the native transport.
        info = extra if extra is not None else {}
        info["socket"] = trsock.TransportSocket(sock)
        try:
            info["sockname"] = sock.getsockname()
        except OSError:
            info["sockname"] = None
        if "peername" not in info:
            try:
                info["peername"] = sock.getpeername()
            except OSError:
                info["peername"] = None
        transport = _core.SocketTransport(self, sock, protocol, info, server)
        if server is not None:
            server._attach(transport) if _ATTACH_TAKES_TRANSPORT else server._attach()
        self._transports[sock.fileno()] = transport
        base_events._set_nodelay(sock)
        self.call_soon(protocol.connection_made, transport)
        self.call_soon(transport._start_reading)
        if waiter is not None:
            self.call_soon(futures._set_result_unless_cancelled, waiter, None)
        return transport

    def _add_callback(self, handle: Any) -> None:
        # asyncio's signal path hands over an asyncio.Handle for its own ready queue.
        if not handle._cancelled:
            self.call_soon(handle._run)

    # -- running
    def run_forever(self) -> None:
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        old_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook
        )
        self._thread_id = threading.get_ident()
        events._set_running_loop(self)
        try:
            self._run_forever_native()
        finally:
            self._stopping = False
            self._thread_id = None
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_hooks)

    def close(self) -> None:
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        super().close()
        self._close_native()

    def __repr__(self) -> str:
        return (
            f"<{self.__class__.__name__} running={self.is_running()} "
            f"closed={self.is_closed()} debug={self.get_debug()}>"
        )
