"""tagflow 0.12.0's Starlette/FastAPI glue for tagflow_cpp.compat (imported on first use).

Same classes, same bytes: TagResponse renders ``<!doctype html>\\n`` + the current document,
XMLResponse its single root as XML, DocumentMiddleware gives every request a fresh document,
Live mounts tagflow's client script and websocket route. Compat documents are never live (no
element tree to mutate), so ``Live.session()`` raises NotImplementedError.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from tagflow_cpp.compat import _NO_TREE, _current, _no_document, _xml, document, tag


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
        return ("<!doctype html>\n" + _current_doc().render()).encode("utf-8")


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


class Live:
    """tagflow's Live: ``async with live.run(app):`` mounts /.well-known/tagflow/static and the
    websocket /.well-known/tagflow/live.ws. Sessions are not supported (see module doc)."""

    def __init__(self) -> None:
        self._taskgroup: Any = None
        self._sessions: dict[str, Any] = {}

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

    async def session(self) -> Any:
        if not self._taskgroup:
            raise RuntimeError("Live.run() must be called before creating a session.")
        raise NotImplementedError(_NO_TREE.format(what="a live session"))

    def script_tag(self) -> None:
        with tag.script(src="/.well-known/tagflow/static/tagflow.js"):
            pass

    def client_tag(self, session_id: str) -> None:
        with tag("tagflow-client", session_id=session_id):
            pass

    async def handle_websocket(self, websocket: WebSocket) -> None:
        # tagflow's protocol: the client's first message is {"id": session_id}; an unknown
        # session is closed with 1008 (policy violation). No session exists here.
        await websocket.accept()
        hello = await websocket.receive_json()
        if hello.get("id") not in self._sessions:
            await websocket.close(code=1008)
            return
        try:  # pragma: no cover - unreachable while sessions are unsupported
            while True:
                await websocket.receive_json()
        except WebSocketDisconnect:
            return
