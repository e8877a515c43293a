"""Python echo servers: one process, one event loop, one API.

Run by the interpreter under test (a venv with uvloop, rloop and ringloop), not imported by
the lab, so it depends on nothing but the standard library and the loop package:

    python servers.py --loop uvloop --api protocol --port 8000

It prints ``listening on HOST:PORT ...`` once it accepts connections and serves
until SIGTERM or SIGINT. The APIs follow uvloop's examples/bench/echoserver.py:

sockets        loop.sock_accept / loop.sock_recv / loop.sock_sendall
streams        asyncio.start_server, reader.read / writer.write (+ drain)
protocol       asyncio.Protocol, transport.write in data_received
buffered       asyncio.BufferedProtocol into a preallocated buffer

Two variants isolate how sock_recv waits (see the README):

sockets-eager  try sock.recv() before loop.sock_recv (what the selector loop does inside
               sock_recv; uvloop's sock_recv always registers a reader first)
sockets-wait   always wait for readability before recv() (what uvloop does)

HTTP/1.1 keep-alive (echoload --mode http; uvloop's own headline workload): "GET /<size>" is
answered with status 200, Content-Length <size> and a body whose byte i is 'a' + i % 26.

http-httptools asyncio.Protocol with httptools' parser (as uvloop's examples/bench/http_server.py)
http-streams   asyncio streams: readuntil the blank line, parse the request line

With --stats PATH the server writes how many receives found data immediately
(JSON) when it is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys

APIS = (
    "sockets",
    "streams",
    "protocol",
    "buffered",
    "sockets-eager",
    "sockets-wait",
    "http-httptools",
    "http-streams",
)
LOOPS = ("asyncio", "uvloop", "rloop", "ringloop")
READ_SIZE = 256 * 1024
#: listen() backlog. create_server(sock=...) calls listen() again with its default of 100 (uvloop
#: too), which 256 connections opened at once overflow: connections reset before any byte.
BACKLOG = 1024

#: Receive counters for the sockets variants: [found data at once, had to wait].
STATS = {"immediate": 0, "waited": 0}


def _nodelay(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _wait_readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    fut = loop.create_future()
    fd = sock.fileno()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _echo_socket(loop: asyncio.AbstractEventLoop, client: socket.socket, api: str) -> None:
    _nodelay(client)
    with client:
        while True:
            if api == "sockets":
                data = await loop.sock_recv(client, READ_SIZE)
            elif api == "sockets-eager":
                try:
                    data = client.recv(READ_SIZE)
                    STATS["immediate"] += 1
                except BlockingIOError:
                    STATS["waited"] += 1
                    data = await loop.sock_recv(client, READ_SIZE)
            else:  # sockets-wait
                STATS["waited"] += 1
                await _wait_readable(loop, client)
                try:
                    data = client.recv(READ_SIZE)
                except BlockingIOError:
                    continue
            if not data:
                break
            await loop.sock_sendall(client, data)


async def _serve_sockets(loop: asyncio.AbstractEventLoop, sock: socket.socket, api: str) -> None:
    tasks = set()
    while True:
        client, _ = await loop.sock_accept(sock)
        client.setblocking(False)
        task = loop.create_task(_echo_socket(loop, client, api))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def _echo_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _nodelay(writer.get_extra_info("socket"))
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _nodelay(transport.get_extra_info("socket"))
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # type: ignore[assignment]


class EchoBufferedProtocol(asyncio.BufferedProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _nodelay(transport.get_extra_info("socket"))
        self.transport = transport
        self.buffer = bytearray(READ_SIZE)

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        # A slice of a bytearray is a copy: the next read may reuse the buffer at once.
        self.transport.write(self.buffer[:nbytes])  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # type: ignore[assignment]


_RESPONSES: dict[bytes, bytes] = {}
_ALPHABET = b"abcdefghijklmnopqrstuvwxyz"


def http_response(path: bytes) -> bytes:
    """The response to ``GET <path>``: 200 with ``int(path[1:])`` body bytes (cached per path),
    404 for anything else."""
    resp = _RESPONSES.get(path)
    if resp is None:
        try:
            size = int(path[1:])
            if not 0 <= size <= 64 * 1024 * 1024:
                raise ValueError(path)
        except ValueError:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        body = (_ALPHABET * (size // 26 + 1))[:size]
        resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (size, body)
        _RESPONSES[path] = resp
    return resp


class HttpToolsProtocol(asyncio.Protocol):
    """One parser per connection; every complete request (pipelined or not) is answered."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        import httptools

        _nodelay(transport.get_extra_info("socket"))
        self.transport = transport
        self.url = b""
        self.parser = httptools.HttpRequestParser(self)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        self.transport.write(http_response(self.url))  # type: ignore[attr-defined]
        self.url = b""

    def data_received(self, data: bytes) -> None:
        import httptools

        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # type: ignore[assignment]


async def _http_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _nodelay(writer.get_extra_info("socket"))
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path, _version = head.split(b"\r\n", 1)[0].split(b" ", 2)
            writer.write(http_response(path) if method == b"GET" else http_response(b"/-"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "asyncio":
        return asyncio.new_event_loop()
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    if name == "rloop":
        import rloop

        return rloop.new_event_loop()
    if name == "ringloop":
        import ringloop  # this repository's loop (ringloop-event-loop/)

        return ringloop.new_event_loop()
    raise ValueError(f"unknown loop {name!r}; choose from {', '.join(LOOPS)}")


def loop_version(name: str) -> str:
    if name == "asyncio":
        return sys.version.split()[0]
    from importlib.metadata import version

    return version(name)


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


async def serve(loop: asyncio.AbstractEventLoop, api: str, sock: socket.socket) -> None:
    if api.startswith("sockets"):
        await _serve_sockets(loop, sock, api)
        return
    if api in ("streams", "http-streams"):
        handler = _echo_stream if api == "streams" else _http_stream
        server = await asyncio.start_server(handler, sock=sock, backlog=BACKLOG)
    else:
        factories: dict[str, type[asyncio.BaseProtocol]] = {
            "protocol": EchoProtocol,
            "buffered": EchoBufferedProtocol,
            "http-httptools": HttpToolsProtocol,
        }
        server = await loop.create_server(factories[api], sock=sock, backlog=BACKLOG)
    # Not server.serve_forever(): rloop 0.5.0 stops accepting inside it (connections are
    # refused); the server is serving since create_server returned, so just stay alive.
    async with server:
        await loop.create_future()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--loop", choices=LOOPS, default="asyncio")
    p.add_argument("--api", choices=APIS, default="protocol")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--stats", metavar="PATH", help="write receive counters here on SIGTERM")
    args = p.parse_args(argv)

    try:
        loop = new_loop(args.loop)
    except ImportError as exc:
        print(f"servers.py: event loop {args.loop} is not installed here: {exc}", file=sys.stderr)
        return 3
    asyncio.set_event_loop(loop)

    def stop(signum: int, frame: object) -> None:
        if args.stats:
            with open(args.stats, "w") as fh:
                json.dump(STATS, fh)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as exc:
        print(f"servers.py: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()
    print(
        f"listening on {host}:{port} loop={args.loop} {loop_version(args.loop)} api={args.api} "
        f"python={sys.version.split()[0]}",
        flush=True,
    )
    loop.run_until_complete(serve(loop, args.api, sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
