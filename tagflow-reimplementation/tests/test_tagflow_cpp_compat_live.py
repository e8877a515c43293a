"""A tagflow live page on a real server: the same FastAPI app written against tagflow 0.12.0 and
against tagflow_cpp.compat, served by uvicorn on loopback; a browser's part played by the
standard library's HTTP client and a websocket client (wsproto, what uvicorn itself speaks)."""

from __future__ import annotations

import http.client
import importlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
import pytest
import uvicorn
from fastapi import FastAPI
from tagflow_cpp import compat
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

TICKS = 3


def make_app(m: ModuleType) -> FastAPI:
    live = m.Live()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with live.run(app):
            yield

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(m.DocumentMiddleware)

    @app.get("/", response_class=m.TagResponse)
    async def counter() -> None:
        session = await live.session()
        with m.tag.html(), m.tag.body():
            live.script_tag()
            session.client_tag()
            with m.tag.p(class_="count") as count:
                m.text("0")

        async def tick() -> None:
            for n in range(1, TICKS + 1):
                await anyio.sleep(0.05)
                async with m.transition():
                    with m.enter(count):
                        m.clear()
                        m.text(str(n))
                        m.attr("data-n", n)

        session.spawn(tick)

    return app


@pytest.fixture(params=["tagflow", "compat"])
def served(request: pytest.FixtureRequest) -> Iterator[int]:
    m = importlib.import_module("tagflow") if request.param == "tagflow" else compat
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(make_app(m), log_level="warning", lifespan="on", ws="wsproto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def websocket_updates(port: int, session_id: str, count: int) -> list[dict[str, Any]]:
    """Connects as tagflow.js does, says which session, and reads `count` JSON messages."""
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(ws.send(Request(host="127.0.0.1", target="/.well-known/tagflow/live.ws")))
        texts: list[dict[str, Any]] = []
        partial = ""
        while len(texts) < count:
            data = sock.recv(65536)
            assert data, "the server closed the websocket"
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    sock.sendall(ws.send(TextMessage(json.dumps({"id": session_id}))))
                elif isinstance(event, TextMessage):
                    partial += event.data
                    if event.message_finished:
                        texts.append(json.loads(partial))
                        partial = ""
                elif isinstance(event, CloseConnection):
                    raise AssertionError(f"closed by the server: {event.code} {event.reason}")
        sock.sendall(ws.send(CloseConnection(code=1000)))
    return texts


def test_tagflow_cpp_compat_live_page_updates_over_a_real_websocket(served: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    conn.request("GET", "/")
    resp = conn.getresponse()
    page = resp.read().decode()
    assert resp.status == 200, page
    session = re.search(r'<tagflow-client session-id="(\w+)" id="\w+"></tagflow-client>', page)
    count = re.search(r'<p class="count" id="(\w+)">0</p>', page)
    assert session and count, page
    assert page.startswith('<!doctype html>\n<html id="')
    assert '<script src="/.well-known/tagflow/static/tagflow.js" id="' in page
    updates = websocket_updates(served, session.group(1), TICKS)
    target = count.group(1)
    assert updates == [
        {
            "mutations": [
                {"target": target, "type": "clear"},
                {"target": target, "value": str(n), "type": "setText"},
                {"target": target, "name": "data-n", "value": str(n), "type": "setAttribute"},
            ],
            "type": "update",
        }
        for n in range(1, TICKS + 1)
    ]


def test_tagflow_cpp_compat_live_websocket_refuses_an_unknown_session(served: int) -> None:
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        sock.sendall(ws.send(Request(host="127.0.0.1", target="/.well-known/tagflow/live.ws")))
        closed = None
        while closed is None:
            data = sock.recv(65536)
            assert data, "no close frame"
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    sock.sendall(ws.send(TextMessage(json.dumps({"id": "nope"}))))
                elif isinstance(event, CloseConnection):
                    closed = event.code
    assert closed == 1008
