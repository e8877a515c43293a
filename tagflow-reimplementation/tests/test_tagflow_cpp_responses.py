"""tagflow_cpp.responses on a real server: a FastAPI app served by uvicorn on loopback, read
with the standard library's HTTP client (chunked decoding, incomplete bodies as errors)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import uvicorn
from fastapi import FastAPI
from tagflow_cpp import Document
from tagflow_cpp.responses import DocumentResponse, StreamingDocumentResponse


def table(doc: Document, rows: int) -> None:
    with doc.table(class_="report"):
        for i in range(rows):
            with doc.tr(data_row=i):
                doc.td(f"row {i} <&>")
                doc.td(i * 1.5)


def rendered(rows: int) -> str:
    doc = Document()
    table(doc, rows)
    return "<!doctype html>\n" + doc.render()


class Probe:
    """What the endpoints' build functions saw, for the tests to read."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ended: list[BaseException | None] = []
        self.rows_written = 0


def make_app(probe: Probe) -> FastAPI:
    app = FastAPI()

    @app.get("/page")
    def page(rows: int = 1000) -> DocumentResponse:
        doc = Document()
        table(doc, rows)
        return DocumentResponse(doc)

    @app.get("/stream")
    def stream(rows: int = 1000, threshold: int = 4096) -> StreamingDocumentResponse:
        return StreamingDocumentResponse(lambda doc: table(doc, rows), threshold=threshold)

    @app.get("/unclosed")
    def unclosed() -> DocumentResponse:
        doc = Document()
        doc.div().__enter__()
        return DocumentResponse(doc)

    @app.get("/fail-early")
    def fail_early() -> StreamingDocumentResponse:
        def build(doc: Document) -> None:
            raise LookupError("no such report")

        return StreamingDocumentResponse(build)

    @app.get("/fail-late")
    def fail_late() -> StreamingDocumentResponse:
        def build(doc: Document) -> None:
            table(doc, 2000)  # well past the threshold: pieces are out
            raise LookupError("the database went away")

        return StreamingDocumentResponse(build, threshold=1024)

    @app.get("/held")
    def held() -> StreamingDocumentResponse:
        """The first rows, then a wait for the test: it must have them by then."""

        def build(doc: Document) -> None:
            table(doc, 100)
            assert probe.release.wait(20), "the client never saw the first piece"
            table(doc, 100)

        return StreamingDocumentResponse(build, threshold=1024)

    @app.get("/endless")
    def endless() -> StreamingDocumentResponse:
        def build(doc: Document) -> None:
            try:
                with doc.ul():
                    while True:
                        doc.li("x" * 100)
                        probe.rows_written += 1
            except BaseException as exc:
                probe.ended.append(exc)
                raise

        return StreamingDocumentResponse(build, threshold=1024, queue=2)

    return app


@pytest.fixture
def served() -> Iterator[tuple[int, Probe]]:
    """uvicorn on 127.0.0.1, an ephemeral port, in a thread; stopped after the test."""
    probe = Probe()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(probe), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port, probe
    finally:
        probe.release.set()
        server.should_exit = True
        thread.join(10)
        sock.close()


def get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", path)
    return conn.getresponse()


def test_document_response_serves_the_rendered_page(served: tuple[int, Probe]) -> None:
    port, _ = served
    resp = get(port, "/page?rows=1000")
    body = resp.read().decode()
    assert resp.status == 200
    assert resp.getheader("content-type") == "text/html; charset=utf-8"
    assert int(resp.getheader("content-length") or -1) == len(body.encode())
    assert body == rendered(1000)


def test_streaming_response_gives_the_same_bytes_in_pieces(served: tuple[int, Probe]) -> None:
    port, _ = served
    resp = get(port, "/stream?rows=1000&threshold=4096")
    assert resp.status == 200 and resp.getheader("transfer-encoding") == "chunked"
    assert resp.getheader("content-type") == "text/html; charset=utf-8"
    assert resp.read().decode() == rendered(1000)
    for rows in (0, 1, 5):  # smaller than one piece: all of it comes with finish()
        assert get(port, f"/stream?rows={rows}&threshold=1").read().decode() == rendered(rows)


def test_the_first_piece_arrives_before_the_page_is_finished(served: tuple[int, Probe]) -> None:
    port, probe = served
    resp = get(port, "/held")
    assert resp.status == 200
    first = resp.read1(65536).decode()  # build is now waiting for probe.release
    assert first.startswith("<!doctype html>\n<table") and not probe.release.is_set()
    probe.release.set()
    rest = resp.read().decode()
    assert (first + rest).count("<tr") == 200 and (first + rest).endswith("</table>")


def test_an_error_before_the_first_piece_is_a_500(served: tuple[int, Probe]) -> None:
    port, _ = served
    assert get(port, "/fail-early").status == 500
    assert get(port, "/unclosed").status == 500


def test_an_error_after_the_first_piece_cuts_the_body_off(served: tuple[int, Probe]) -> None:
    """The status line (200) is out; the page must not look complete."""
    port, _ = served
    resp = get(port, "/fail-late")
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()


def test_a_client_that_goes_away_stops_the_build(served: tuple[int, Probe]) -> None:
    port, probe = served
    resp = get(port, "/endless")
    assert resp.read1(4096)
    resp.close()  # closes the socket
    deadline = time.monotonic() + 10
    while not probe.ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert probe.ended, f"build still running after the client left ({probe.rows_written} rows)"
    assert isinstance(probe.ended[0], anyio.BrokenResourceError)


def test_bad_arguments_are_refused_in_the_endpoint() -> None:
    with pytest.raises(TypeError, match="tagflow_cpp.Document"):
        DocumentResponse("<p>not a document</p>")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        StreamingDocumentResponse("<p>")  # type: ignore[arg-type]
    for kwargs in ({"threshold": 0}, {"queue": 0}):
        bad: dict[str, Any] = kwargs
        with pytest.raises(ValueError, match="at least 1"):
            StreamingDocumentResponse(lambda doc: None, **bad)
