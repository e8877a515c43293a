"""Serve tagflow_cpp documents from Starlette or FastAPI (``pip install starlette``).

>>> from fastapi import FastAPI
>>> from tagflow_cpp import Document
>>> from tagflow_cpp.responses import DocumentResponse, StreamingDocumentResponse
>>> app = FastAPI()
>>> @app.get("/")
... def home() -> DocumentResponse:
...     doc = Document()
...     with doc.main():
...         doc.h1("Hello")
...     return DocumentResponse(doc)
>>> @app.get("/report")
... def report() -> StreamingDocumentResponse:
...     def build(doc: Document) -> None:
...         with doc.table():
...             for i in range(100_000):
...                 doc.tr(str(i))
...     return StreamingDocumentResponse(build)

``DocumentResponse`` renders a finished document once. ``StreamingDocumentResponse`` runs
``build(doc)`` in a worker thread on a fresh streaming document: ``doc.stream_to`` hands each
finished piece (whole elements, at least ``threshold`` bytes) straight to the ASGI send
channel, so the client gets the first bytes while the rest is still being written and memory
stays bounded by ``threshold`` and ``queue`` pieces, whatever the page's size. The worker waits
when the client reads slower than the page is written (back-pressure), and stops with the
client: a disconnect ends ``build`` with ``anyio.BrokenResourceError`` at its next piece.

The status line waits for the first piece, so an exception from ``build`` before it is raised
to Starlette as itself (a 500, or the app's handler for it). After it, the response is cut
off without its final chunk: the client sees an incomplete body (an error in every HTTP
client), never a page that looks complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.streams.memory import MemoryObjectSendStream
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.types import Send

from tagflow_cpp._core import Document

__all__ = ["DocumentResponse", "StreamingDocumentResponse"]

DOCTYPE = "<!doctype html>\n"


class DocumentResponse(HTMLResponse):
    """A finished ``Document`` as ``text/html; charset=utf-8``, with ``<!doctype html>``
    first unless ``doctype=False``. Unclosed tags raise ``ValueError`` here, in the
    endpoint, before anything is sent."""

    def __init__(
        self,
        doc: Document,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        doctype: bool = True,
        background: BackgroundTask | None = None,
    ) -> None:
        if not isinstance(doc, Document):
            raise TypeError(f"DocumentResponse needs a tagflow_cpp.Document, not {type(doc)!r}")
        body = (DOCTYPE if doctype else "") + doc.render()
        super().__init__(body, status_code, headers, background=background)


class StreamingDocumentResponse(StreamingResponse):
    """``build(doc)`` writes a page into a fresh streaming ``Document`` in a worker thread;
    the pieces go to the client as they are finished (chunked transfer encoding)."""

    def __init__(
        self,
        build: Callable[[Document], Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        threshold: int = 65536,
        queue: int = 4,
        doctype: bool = True,
        background: BackgroundTask | None = None,
    ) -> None:
        if not callable(build):
            raise TypeError(f"StreamingDocumentResponse needs a callable build(doc), not {build!r}")
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1 byte, not {threshold}")
        if queue < 1:
            raise ValueError(f"queue must hold at least 1 piece, not {queue}")
        self.build, self.threshold, self.queue, self.doctype = build, threshold, queue, doctype
        # Starlette's StreamingResponse.__call__ drives stream_response (below) and handles the
        # client going away (send raising OSError, or http.disconnect); the iterator is unused.
        super().__init__(_unused(), status_code, headers, "text/html", background)

    async def stream_response(self, send: Send) -> None:
        pieces_in, pieces_out = anyio.create_memory_object_stream[bytes](self.queue)
        done = anyio.Event()  # set when build and finish() returned: the page is whole
        start = {"type": "http.response.start", "status": self.status_code}
        start["headers"] = self.raw_headers
        try:
            async with anyio.create_task_group() as tasks, pieces_out:
                tasks.start_soon(self._produce, pieces_in, done)
                started = False
                async for piece in pieces_out:
                    if not started:  # the status line waits for the first piece: an
                        await send(start)  # error before it is still a 500
                        started = True
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                if not done.is_set():  # build failed: its exception is on its way to the
                    await anyio.sleep_forever()  # task group, and no last chunk may go out
                if not started:
                    await send(start)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except BaseExceptionGroup as group:
            raise _alone(group) from None

    async def _produce(self, pieces: MemoryObjectSendStream[bytes], done: anyio.Event) -> None:
        prefix = [DOCTYPE] if self.doctype else []

        def write(piece: str) -> None:  # in the worker thread: waits for room in the queue
            if prefix:  # the doctype goes out with the first piece, not before it
                piece = prefix.pop() + piece
            anyio.from_thread.run(pieces.send, piece.encode("utf-8"))

        def render() -> None:  # the document is made, used and finished in the worker thread
            doc = Document()
            doc.stream_to(write, self.threshold)
            self.build(doc)
            doc.finish()
            if prefix:  # nothing was written at all
                write("")

        async with pieces:  # closed in every case; the last chunk needs `done` too
            try:
                await anyio.to_thread.run_sync(render, abandon_on_cancel=False)
            except anyio.BrokenResourceError:
                return  # the response stopped taking pieces (the client went away)
            done.set()


def _alone(group: BaseExceptionGroup) -> BaseException:
    """The one exception of a task group's failure, as itself (so Starlette's exception
    handlers match it); the group when there are several."""
    leaves = group.exceptions
    while len(leaves) == 1 and isinstance(leaves[0], BaseExceptionGroup):
        leaves = leaves[0].exceptions
    return leaves[0] if len(leaves) == 1 else group


async def _unused() -> AsyncIterator[bytes]:
    nothing: tuple[bytes, ...] = ()
    for piece in nothing:  # an async generator that yields nothing
        yield piece
