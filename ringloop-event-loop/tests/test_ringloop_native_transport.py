"""ringloop's own stream-socket transport (ringloop._core.SocketTransport): what it must do that
asyncio's transports do too, at the places where io_uring makes it different — data that arrives
while reading is paused, a protocol's small buffers, writes of mutable buffers, requests still
in flight when a loop closes, file descriptors after a server stops."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import warnings
from typing import Any

import pytest
import ringloop
from ringloop import _core


def _open_fds() -> set[int]:
    return {int(n) for n in os.listdir("/proc/self/fd")}


async def _pair(factory: Any) -> tuple[asyncio.Server, socket.socket, Any]:
    """A server with one protocol from `factory`, and a blocking client socket connected to it."""
    loop = asyncio.get_running_loop()
    made: asyncio.Future[Any] = loop.create_future()

    def build() -> Any:
        proto = factory()
        loop.call_soon(lambda: made.done() or made.set_result(proto))
        return proto

    server = await loop.create_server(build, "127.0.0.1", 0)
    client = socket.create_connection(server.sockets[0].getsockname())
    client.setblocking(False)
    return server, client, await asyncio.wait_for(made, 5)


class Keeper(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: Any = None
        self.chunks: list[bytes] = []
        self.events: list[str] = []
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def eof_received(self) -> bool:
        self.events.append("eof")
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append("lost")
        if not self.lost.done():
            self.lost.set_result(exc)


def test_every_stream_api_gets_the_native_transport(loop: ringloop.Loop) -> None:
    async def main() -> list[Any]:
        seen: list[Any] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.transport)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        seen.append(writer.transport)
        transport, _ = await asyncio.get_running_loop().create_connection(
            asyncio.Protocol, "127.0.0.1", port
        )
        seen.append(transport)
        await reader.read()
        writer.close()
        transport.close()
        server.close()
        await server.wait_closed()
        return seen

    for transport in loop.run_until_complete(main()):
        assert type(transport) is _core.SocketTransport
        assert isinstance(transport, asyncio.Transport)
        assert transport.get_extra_info("peername")[0] == "127.0.0.1"
        assert transport.get_extra_info("socket") is not None
        assert transport.is_closing()


def test_data_arriving_while_paused_is_kept_in_order_then_eof(loop: ringloop.Loop) -> None:
    async def main() -> tuple[bytes, list[str], list[int]]:
        server, client, proto = await _pair(Keeper)
        proto.transport.pause_reading()
        assert not proto.transport.is_reading()
        expected = b"".join(bytes([i]) * 1000 for i in range(50))
        for i in range(50):  # 50 sends: many completions while paused
            await asyncio.get_running_loop().sock_sendall(client, bytes([i]) * 1000)
        client.shutdown(socket.SHUT_WR)
        await asyncio.sleep(0.1)
        held = [len(c) for c in proto.chunks]  # nothing reached the protocol while paused
        proto.transport.resume_reading()
        exc = await asyncio.wait_for(proto.lost, 5)
        assert exc is None
        client.close()
        server.close()
        await server.wait_closed()
        assert b"".join(proto.chunks) == expected
        return b"".join(proto.chunks), proto.events, held

    data, events, held = loop.run_until_complete(main())
    assert held == []
    assert events == ["eof", "lost"]


class SmallBuffers(asyncio.BufferedProtocol):
    """Offers 7 bytes at a time; pauses reading after the first 100 bytes, once."""

    def __init__(self) -> None:
        self.buf = bytearray(7)
        self.data = bytearray()
        self.transport: Any = None
        self.paused_once = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buf

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.buf[:nbytes]
        if len(self.data) >= 100 and not self.paused_once:
            self.paused_once = True
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(0.05, self.transport.resume_reading)

    def eof_received(self) -> bool:
        self.done.set_result(None)
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        pass


def test_buffered_protocol_with_small_buffers_and_a_pause_gets_every_byte(
    loop: ringloop.Loop,
) -> None:
    async def main() -> tuple[bytes, bytes]:
        server, client, proto = await _pair(SmallBuffers)
        payload = os.urandom(200_000)
        await asyncio.get_running_loop().sock_sendall(client, payload)
        client.shutdown(socket.SHUT_WR)
        await asyncio.wait_for(proto.done, 10)
        client.close()
        server.close()
        await server.wait_closed()
        return bytes(proto.data), payload

    got, sent = loop.run_until_complete(main())
    assert got == sent


def test_writes_of_mutable_buffers_send_what_they_held_at_write_time(loop: ringloop.Loop) -> None:
    async def main() -> bytes:
        server, client, proto = await _pair(Keeper)
        buf = bytearray(b"first ")
        view = memoryview(bytearray(b"second "))
        proto.transport.write(buf)
        proto.transport.writelines([view, b"third"])
        buf[:] = b"XXXXXX"  # after write(): must not change what is sent
        view[:] = b"YYYYYYY"
        proto.transport.close()
        got = bytearray()
        while chunk := await asyncio.wait_for(asyncio.get_running_loop().sock_recv(client, 100), 5):
            got += chunk
        client.close()
        server.close()
        await server.wait_closed()
        return bytes(got)

    assert loop.run_until_complete(main()) == b"first second third"


def test_bad_writes_raise_as_asyncio_does(loop: ringloop.Loop) -> None:
    async def main() -> None:
        server, client, proto = await _pair(Keeper)
        t = proto.transport
        with pytest.raises(TypeError, match="data argument must be a bytes-like object, not 'str'"):
            t.write("text")
        with pytest.raises(ValueError, match="must be >= low"):
            t.set_write_buffer_limits(high=1, low=2)
        t.set_write_buffer_limits(high=100)
        assert t.get_write_buffer_limits() == (25, 100)
        t.close()
        await asyncio.wait_for(proto.lost, 5)
        t.write(b"after close")  # ignored once the connection is lost, as asyncio does
        client.close()
        server.close()
        await server.wait_closed()

        server, client, proto = await _pair(Keeper)
        proto.transport.write(b"last")
        proto.transport.write_eof()
        with pytest.raises(RuntimeError, match="after write_eof"):
            proto.transport.write(b"late")
        got = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(client, 10), 5)
        assert got == b"last"
        assert await asyncio.wait_for(asyncio.get_running_loop().sock_recv(client, 10), 5) == b""
        proto.transport.close()
        client.close()
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_abort_with_a_send_in_flight_calls_connection_lost_once(loop: ringloop.Loop) -> None:
    async def main() -> list[str]:
        server, client, proto = await _pair(Keeper)
        proto.transport.write(b"x" * (64 << 20))  # stays in flight: the client never reads
        await asyncio.sleep(0.05)
        assert proto.transport.get_write_buffer_size() > 0
        proto.transport.abort()
        proto.transport.abort()
        assert await asyncio.wait_for(proto.lost, 5) is None
        await asyncio.sleep(0.05)
        assert proto.transport.get_write_buffer_size() == 0
        client.close()
        server.close()
        await server.wait_closed()
        return proto.events

    assert loop.run_until_complete(main()) == ["lost"]


def test_closing_the_loop_with_requests_in_flight_warns_and_closes_the_sockets() -> None:
    loop = ringloop.new_event_loop()
    before = _open_fds()

    async def main() -> tuple[socket.socket, Any]:
        server, client, proto = await _pair(Keeper)
        proto.transport.write(b"y" * (64 << 20))  # a send and a receive in flight
        await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()
        return client, proto

    client, proto = loop.run_until_complete(main())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop.close()  # cancels both requests and waits for them before the buffers go
        del proto
        gc.collect()
    client.close()
    assert any("unclosed transport" in str(w.message) for w in caught), caught
    assert _open_fds() <= before


def test_a_server_leaves_no_descriptor_open_after_it_stops(loop: ringloop.Loop) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        for _ in range(3):
            conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
            for i, (_, writer) in enumerate(conns):
                writer.write(b"%d" % i * 1000)
            for i, (reader, writer) in enumerate(conns):
                assert await asyncio.wait_for(reader.readexactly(len(b"%d" % i) * 1000), 5) == (
                    b"%d" % i * 1000
                )
                writer.close()
                await writer.wait_closed()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)

    before = _open_fds()
    loop.run_until_complete(main())
    assert _open_fds() == before


class PausesOnEveryChunk(Keeper):
    """Pauses reading in each data_received and resumes on the next iteration: completions
    already in flight (more data, the end of the stream) race with the pause and the resume."""

    def data_received(self, data: bytes) -> None:
        if "eof" in self.events:
            self.events.append("data after eof")
        super().data_received(data)
        self.transport.pause_reading()
        asyncio.get_running_loop().call_soon(self.transport.resume_reading)


def test_eof_racing_a_resume_still_comes_after_the_data(loop: ringloop.Loop) -> None:
    async def main() -> tuple[bytes, list[str]]:
        payload = os.urandom(300_000)
        for i in range(40):
            server, client, proto = await _pair(PausesOnEveryChunk)
            await asyncio.get_running_loop().sock_sendall(client, payload)
            for _ in range(i % 4):  # the end of the stream in a later batch of completions
                await asyncio.sleep(0)
            client.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(proto.lost, 5)
            client.close()
            server.close()
            await server.wait_closed()
            if b"".join(proto.chunks) != payload or proto.events != ["eof", "lost"]:
                break
        return b"".join(proto.chunks), proto.events

    data, events = loop.run_until_complete(main())
    assert events == ["eof", "lost"]
    assert len(data) == 300_000
