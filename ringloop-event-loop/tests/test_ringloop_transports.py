"""TCP servers and connections on ringloop: faults, flow control, many connections.

They pin the behaviour asyncio documents and its own transports show, not our code; ringloop's
native SocketTransport must keep it (test_ringloop_native_transport.py covers what is its own).
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import struct
import sys
from typing import Any

import pytest
import ringloop


class Recorder(asyncio.Protocol):
    """A server-side protocol that keeps what happened to it."""

    def __init__(self, keep_open_on_eof: bool = False) -> None:
        self.keep_open_on_eof = keep_open_on_eof
        self.transport: Any = None
        self.data = bytearray()
        self.events: list[str] = []
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.events.append("eof")
        return self.keep_open_on_eof

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append("lost")
        if not self.lost.done():
            self.lost.set_result(exc)


async def serve(factory: Any) -> tuple[asyncio.Server, int]:
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_peer_reset_reaches_connection_lost(loop: ringloop.Loop) -> None:
    async def main() -> BaseException | None:
        protos: list[Recorder] = []
        server, port = await serve(lambda: protos.append(Recorder()) or protos[-1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello")
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        exc = await asyncio.wait_for(protos[0].lost, 5)
        server.close()
        await server.wait_closed()
        assert protos[0].data == b"hello"
        return exc

    exc = loop.run_until_complete(main())
    assert isinstance(exc, ConnectionResetError), exc


def test_half_close_keeps_the_other_direction_open(loop: ringloop.Loop) -> None:
    async def main() -> bytes:
        class Answer(Recorder):
            def eof_received(self) -> bool:
                super().eof_received()
                self.transport.write(b"got " + bytes(self.data))
                self.transport.close()
                return True

        server, port = await serve(lambda: Answer())
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert writer.can_write_eof()
        writer.write(b"question")
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)  # until the server's FIN
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return answer

    assert loop.run_until_complete(main()) == b"got question"


def test_backpressure_pauses_and_resumes_the_writer(loop: ringloop.Loop) -> None:
    async def main() -> tuple[list[str], int, int]:
        protos: list[Recorder] = []
        server, port = await serve(lambda: protos.append(Recorder()) or protos[-1])
        client = socket.create_connection(("127.0.0.1", port))
        await asyncio.sleep(0.05)
        proto = protos[0]
        proto.transport.set_write_buffer_limits(high=64 * 1024)
        chunk = b"x" * 65536
        while "pause" not in proto.events:
            proto.transport.write(chunk)
            await asyncio.sleep(0)
        paused_at = proto.transport.get_write_buffer_size()
        total = 0
        client.setblocking(False)
        while "resume" not in proto.events:
            total += len(await asyncio.wait_for(loop.sock_recv(client, 1 << 20), 5))
        client.close()
        server.close()
        await server.wait_closed()
        return proto.events, paused_at, total

    events, paused_at, total = loop.run_until_complete(main())
    assert events[:3] == ["made", "pause", "resume"]
    assert paused_at > 64 * 1024 and total > 0


def test_cancelling_a_drain_mid_write_leaves_a_usable_writer(loop: ringloop.Loop) -> None:
    async def main() -> bytes:
        got = bytearray()
        done = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.transport.set_write_buffer_limits(high=16 * 1024)
            # 64 MiB: more than loopback takes in (tcp_wmem 4 MiB + tcp_rmem up to 32 MiB here)
            writer.write(b"a" * (64 << 20))
            drain = asyncio.ensure_future(writer.drain())
            await asyncio.sleep(0.01)
            assert not drain.done()
            drain.cancel()
            with pytest.raises(asyncio.CancelledError):
                await drain
            writer.write(b"END")
            writer.close()
            await writer.wait_closed()
            done.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.05)  # let the server's buffer fill before reading
        while chunk := await asyncio.wait_for(reader.read(1 << 20), 5):
            got.extend(chunk)
        await asyncio.wait_for(done.wait(), 5)
        writer.close()
        server.close()
        await server.wait_closed()
        return bytes(got[-3:]) + str(len(got)).encode()

    assert loop.run_until_complete(main()) == b"END" + str((64 << 20) + 3).encode()


def test_close_flushes_pending_writes_and_abort_drops_them(loop: ringloop.Loop) -> None:
    async def main() -> tuple[int, BaseException | None, list[str]]:
        protos: list[Recorder] = []
        server, port = await serve(lambda: protos.append(Recorder()) or protos[-1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.02)
        big = os.urandom(8 << 20)
        protos[0].transport.write(big)
        protos[0].transport.close()  # everything still goes out, then FIN
        assert protos[0].transport.is_closing()
        received = await asyncio.wait_for(reader.read(), 10)
        assert received == big
        writer.close()
        await writer.wait_closed()
        # abort: the buffer is dropped and connection_lost comes at once
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.02)
        protos[1].transport.write(big)
        protos[1].transport.abort()
        exc = await asyncio.wait_for(protos[1].lost, 5)
        writer2.close()
        server.close()
        await server.wait_closed()
        return len(received), exc, protos[1].events

    n, exc, events = loop.run_until_complete(main())
    assert n == 8 << 20
    assert exc is None and events[-1] == "lost"


def test_protocol_raising_in_data_received_closes_and_reports(loop: ringloop.Loop) -> None:
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def main() -> BaseException | None:
        class Broken(Recorder):
            def data_received(self, data: bytes) -> None:
                raise RuntimeError("bug in the protocol")

        protos: list[Recorder] = []
        server, port = await serve(lambda: protos.append(Broken()) or protos[-1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x")
        exc = await asyncio.wait_for(protos[0].lost, 5)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed
        writer.close()
        server.close()
        await server.wait_closed()
        return exc

    exc = loop.run_until_complete(main())
    assert isinstance(exc, RuntimeError)
    assert any(isinstance(c.get("exception"), RuntimeError) for c in contexts)
    assert any("protocol" in c for c in contexts)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# The clients run in a child process (an fd table of their own): plain blocking sockets, all
# connected first, then one 5-byte message each and its echo read back.
CLIENTS = """
import resource, socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
for i, c in enumerate(conns):
    c.sendall(b"%05d" % i)
ok = 0
for i, c in enumerate(conns):
    got = b""
    while len(got) < 5:
        chunk = c.recv(5 - len(got))
        if not chunk:
            break
        got += chunk
    ok += got == b"%05d" % i
for c in conns:
    c.close()
print(ok)
"""


def test_ten_thousand_connections_echo_and_close(loop: ringloop.Loop) -> None:
    n = 10_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} < {need}: cannot hold {n} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    before = _open_fds()
    lost: list[BaseException | None] = []

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

        def connection_lost(self, exc: BaseException | None) -> None:
            lost.append(exc)

    async def main() -> tuple[int, int]:
        server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENTS, str(n), str(port), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0
        while len(lost) < n:  # every server side sees the clients' FIN
            await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()
        return int(out), len(lost)

    try:
        asyncio.set_event_loop(loop)  # 3.11/3.12's child watcher looks the loop up
        assert loop.run_until_complete(main()) == (n, n)
        assert lost.count(None) == n
        assert _open_fds() <= before + 2  # every accepted socket was closed
    finally:
        asyncio.set_event_loop(None)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
