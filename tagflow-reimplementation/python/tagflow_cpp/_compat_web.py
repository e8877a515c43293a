"""tagflow 0.12.0's Starlette/FastAPI glue for tagflow_cpp.compat (imported on first use).

Same classes, same bytes: TagResponse renders ``<!doctype html>\\n`` + the current document,
XMLResponse its single root as XML, DocumentMiddleware gives every request a fresh document,
Live mounts tagflow's client script and websocket route and runs live sessions: a session's
document is tagflow's tree (see tagflow_cpp._compat_tree), whose mutations inside
``transition()`` reach the browser as tagflow's JSON updates over that websocket.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from tagflow_cpp._compat_tree import Transaction, mint, switch, tx
from tagflow_cpp.compat import _current, _html, _no_document, _xml, document, tag


def _current_doc() -> Any:
    # tagflow reads a context variable without default here: outside a document it raises
    # LookupError, and so does this (with a message saying what is missing).
    doc = _current.get()
    if doc is None:
        raise _no_document()
    return doc


class TagResponse(HTMLResponse):
    """Renders the current document as ``<!doctype html>\\n`` + its HTML (tagflow's class)."""

    def render(self, content: Any = None) -> bytes:
        return ("<!doctype html>\n" + _html(_current_doc())).encode("utf-8")


class XMLResponse(Response):
    """Renders the current document's single root element as XML (tagflow's class)."""

    media_type = "application/xml"

    def render(self, content: Any) -> bytes:
        return _xml(_current_doc()).encode("utf-8")


class DocumentMiddleware(BaseHTTPMiddleware):
    """A fresh document for each request: ``app.add_middleware(DocumentMiddleware)``."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        with document():
            return await call_next(request)


def _static_dir() -> pathlib.Path:
    # tagflow's client script (tagflow.js) ships with tagflow; it is not copied here.
    try:
        import tagflow
    except ImportError as e:
        raise RuntimeError("Live.run() serves tagflow's tagflow.js: install tagflow") from e
    return pathlib.Path(tagflow.__file__).parent / "static"


class Session:
    """A live session (tagflow's): its task group, and the channel its transactions go out on."""

    def __init__(
        self,
        id: str,
        taskgroup: TaskGroup,
        send_channel: MemoryObjectSendStream[Transaction],
        transaction_receiver: MemoryObjectReceiveStream[Transaction],
    ) -> None:
        self.id = id
        self.taskgroup = taskgroup
        self.send_channel = send_channel
        self.transaction_receiver = transaction_receiver

    @asynccontextmanager
    async def transition(self) -> AsyncIterator[None]:
        """The mutations made in the block, sent as one Transaction (none: nothing sent)."""
        transaction = Transaction()
        token = tx.set(transaction)
        try:
            yield
            if transaction.mutations:
                await self.send_channel.send(transaction)
        finally:
            tx.reset(token)

    def spawn(self, fn: Callable[..., Any]) -> None:
        """Runs ``fn`` (an async function) in the session's task group."""
        self.taskgroup.start_soon(fn)

    def cancel(self) -> None:
        """Ends the session: its tasks and its websocket."""
        self.taskgroup.cancel_scope.cancel()

    def client_tag(self) -> None:
        """``<tagflow-client session-id=...>``: the element that connects the page to it."""
        with tag("tagflow-client", session_id=self.id):
            pass

    async def run(self) -> None:
        async with self.send_channel:
            while True:
                await anyio.sleep(1)


class Live:
    """tagflow's Live: ``async with live.run(app):`` mounts /.well-known/tagflow/static and the
    websocket /.well-known/tagflow/live.ws; ``await live.session()`` makes the current document
    live."""

    def __init__(self) -> None:
        self._taskgroup: TaskGroup | None = None
        self._sessions: dict[str, Session] = {}

    @asynccontextmanager
    async def run(self, app: Any) -> AsyncIterator[None]:
        async with anyio.create_task_group() as taskgroup:
            self._taskgroup = taskgroup
            app.mount(
                "/.well-known/tagflow/static",
                StaticFiles(directory=str(_static_dir())),
                name="tagflow_static",
            )
            app.websocket("/.well-known/tagflow/live.ws")(self.handle_websocket)
            yield

    async def session(self) -> Session:
        """A new session for the current document, which becomes live: its elements get ids and
        its mutations inside ``transition()`` go to the browser."""
        if not self._taskgroup:
            raise RuntimeError("Live.run() must be called before creating a session.")
        tree = switch(_current_doc())
        session_id = mint()
        send, receive = anyio.create_memory_object_stream[Transaction](8)
        made_send, made_receive = anyio.create_memory_object_stream[Session](1)

        async def session_task() -> None:
            async with anyio.create_task_group() as taskgroup:
                session = Session(session_id, taskgroup, send, receive)
                self._sessions[session_id] = session
                async with made_send:
                    await made_send.send(session)
                try:
                    await session.run()
                finally:
                    del self._sessions[session_id]

        self._taskgroup.start_soon(session_task)
        async with made_receive:
            session = await made_receive.receive()
        tree.session = session
        return session

    def script_tag(self) -> None:
        with tag.script(src="/.well-known/tagflow/static/tagflow.js"):
            pass

    def client_tag(self, session_id: str) -> None:
        with tag("tagflow-client", session_id=session_id):
            pass

    async def handle_websocket(self, websocket: WebSocket) -> None:
        # tagflow's protocol: the client's first message is {"id": session_id}; an unknown
        # session is closed with 1008 (policy violation). Then every transaction of the session
        # goes out as JSON until the browser disconnects, which ends the session.
        await websocket.accept()
        hello = await websocket.receive_json()
        session = self._sessions.get(hello.get("id"))
        if session is None:
            await websocket.close(code=1008)
            return

        async def receive() -> None:
            while True:
                try:
                    await websocket.receive_json()
                except WebSocketDisconnect:
                    session.taskgroup.cancel_scope.cancel()
                    return

        async def send() -> None:
            async with session.transaction_receiver.clone() as transactions:
                async for transaction in transactions:
                    await websocket.send_json(transaction.model_dump())

        async with anyio.create_task_group() as taskgroup:
            taskgroup.start_soon(receive)
            taskgroup.start_soon(send)
