"""The wire recorder on a real uvicorn server, read incrementally with httpx (never an in-process client)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from harness.evidence import HttpExchange, WireStream
from harness.recording import WireLog, WireRecorder
from harness.servers import BackgroundLoop, LiveServer

WAIT_S = 5.0

FIRST_CHUNK = b'retry: 3000\nevent: started\ndata: {"type":"status","message":"Started"}\n\n'
REST_CHUNKS = [
    b": ping\n\n",
    b'event: progress\ndata: {"type":"status",',  # one event split across two sends
    b'"message":"Writing"}\n\n',
    b"event: done\n\n",  # no data line: browsers never dispatch it
]


class Barrier:
    """Lets the test decide when the stream continues; the app waits on it in a worker thread."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def release(self) -> float:
        released_at = time.time()
        self.released.set()
        return released_at


def _build_app(barrier: Barrier) -> Starlette:
    async def stream(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield FIRST_CHUNK
            # Bounded: a test that never releases still ends.
            await anyio.to_thread.run_sync(barrier.released.wait, WAIT_S, abandon_on_cancel=True)
            for chunk in REST_CHUNKS:
                yield chunk

        return StreamingResponse(body(), media_type="text/event-stream")

    async def endless(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"data: first\n\n"
            await anyio.to_thread.run_sync(barrier.released.wait, WAIT_S, abandon_on_cancel=True)
            yield b"data: second\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    async def broken(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"event: progress\ndata: 1\n\nevent: success\ndata: {"
            raise RuntimeError("generator exploded")

        return StreamingResponse(body(), media_type="text/event-stream")

    async def missing(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "No such task"}, status_code=404)

    async def health(request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    return Starlette(
        routes=[
            Route("/stream", stream),
            Route("/endless", endless),
            Route("/broken", broken),
            Route("/missing", missing),
            Route("/health", health),
        ]
    )


@pytest.fixture
def barrier() -> Iterator[Barrier]:
    gate = Barrier()
    yield gate
    gate.released.set()  # never leave the server's worker thread waiting


@pytest.fixture
def wire_log() -> WireLog:
    return WireLog()


@pytest.fixture
def server(barrier: Barrier, wire_log: WireLog) -> Iterator[LiveServer]:
    with LiveServer(WireRecorder(_build_app(barrier), wire_log)) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=WAIT_S) as http:
        yield http


def _read_until(chunks: Iterator[bytes], marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        received += next(chunks)
    return received


def _only_stream(log: WireLog, mark: int = 0) -> WireStream:
    streams, _ = log.since(mark)
    assert len(streams) == 1, f"expected one stream, got {[s.describe() for s in streams]}"
    return streams[0]


def test_frames_are_recorded_with_send_time_while_the_stream_is_open(
    client: httpx.Client, wire_log: WireLog, barrier: Barrier
) -> None:
    requested_at = time.time()
    with client.stream("GET", "/stream", headers={"Accept": "text/event-stream"}) as response:
        chunks = response.iter_raw()
        received = _read_until(chunks, b"\n\n")
        assert wire_log.wait_for(lambda s, e: bool(s) and len(s[0].events) == 1, WAIT_S)
        open_stream = _only_stream(wire_log)
        assert open_stream.ended_by is None and open_stream.closed_at is None, open_stream
        [started] = open_stream.events
        assert requested_at <= started.t <= time.time()

        released_at = barrier.release()
        received += b"".join(chunks)

    # The recorder must not alter a byte.
    assert received == FIRST_CHUNK + b"".join(REST_CHUNKS)
    assert wire_log.wait_for(lambda s, e: s[0].ended_by is not None, WAIT_S)
    stream = _only_stream(wire_log)
    assert stream.ended_by == "server", stream
    assert stream.status == 200 and stream.is_event_stream, stream
    assert stream.bytes_sent == len(received)
    assert [(f.kind, f.event) for f in stream.frames] == [
        ("retry", ""),
        ("event", "started"),
        ("comment", ""),
        ("event", "progress"),
        ("dataless", "done"),
    ]
    assert stream.frames[0].retry_ms == 3000
    assert stream.frames[2].data == " ping"
    assert stream.frames[3].data == '{"type":"status","message":"Writing"}'
    # Stamped when sent, not when the response ended: the frames after the barrier are later.
    assert started.t < released_at <= stream.frames[3].t
    assert stream.closed_at is not None and stream.closed_at >= stream.frames[-1].t


def _settled(log: WireLog) -> None:
    """Wait until every recorded response has ended: the recorder stamps a body once `send` returned,
    which can be a moment after the client already has it."""
    assert log.wait_for(
        lambda streams, exchanges: (
            all(s.ended_by is not None for s in streams) and all(e.t_end is not None for e in exchanges)
        ),
        WAIT_S,
    ), log.since()


def test_plain_response_is_an_exchange_with_its_status_and_body(client: httpx.Client, wire_log: WireLog) -> None:
    assert client.get("/missing").status_code == 404
    _settled(wire_log)
    streams, exchanges = wire_log.since()
    assert streams == []
    [exchange] = exchanges
    assert isinstance(exchange, HttpExchange)
    assert (exchange.method, exchange.path, exchange.status) == ("GET", "/missing", 404)
    assert exchange.content_type == "application/json"
    assert "No such task" in exchange.body_excerpt
    assert exchange.t_end is not None and exchange.t_end >= exchange.t


def test_event_stream_request_answered_with_json_is_recorded_as_a_stream(
    client: httpx.Client, wire_log: WireLog
) -> None:
    client.get("/missing?task=x", headers={"Accept": "text/event-stream", "Origin": "http://127.0.0.1:1"})
    _settled(wire_log)
    stream = _only_stream(wire_log)
    assert (stream.status, stream.content_type, stream.is_event_stream) == (404, "application/json", False)
    assert stream.query == "task=x" and stream.origin == "http://127.0.0.1:1"
    assert "No such task" in stream.body_excerpt
    assert stream.frames == [] and stream.ended_by == "server"


def test_client_disconnect_is_recorded(client: httpx.Client, wire_log: WireLog) -> None:
    with client.stream("GET", "/endless", headers={"Accept": "text/event-stream"}) as response:
        _read_until(response.iter_raw(), b"\n\n")
    # Leaving the block closes the connection while the server waits at the barrier.
    assert wire_log.wait_for(lambda s, e: bool(s) and s[0].ended_by is not None, WAIT_S), _only_stream(wire_log)
    stream = _only_stream(wire_log)
    assert stream.ended_by == "client_disconnect", stream
    assert [f.data for f in stream.events] == ["first"]


def test_app_error_mid_stream_is_recorded_with_the_unterminated_tail(client: httpx.Client, wire_log: WireLog) -> None:
    with pytest.raises(httpx.HTTPError):
        with client.stream("GET", "/broken") as response:
            b"".join(response.iter_raw())
    assert wire_log.wait_for(lambda s, e: bool(s) and s[0].ended_by is not None, WAIT_S)
    stream = _only_stream(wire_log)
    assert stream.ended_by == "error", stream
    assert "generator exploded" in stream.error
    assert [(f.kind, f.event, f.data) for f in stream.frames] == [
        ("event", "progress", "1"),
        ("unterminated", "success", "data: {"),
    ]


def test_mark_slices_one_tests_records(client: httpx.Client, wire_log: WireLog) -> None:
    client.get("/health")
    mark = wire_log.mark()
    client.get("/missing")
    _, exchanges = wire_log.since(mark)
    assert [e.path for e in exchanges] == ["/missing"]
    assert [e.path for e in wire_log.since()[1]] == ["/health", "/missing"]


def test_forget_before_drops_finished_records(client: httpx.Client, wire_log: WireLog) -> None:
    client.get("/health")
    _settled(wire_log)  # only finished records are dropped
    mark = wire_log.mark()
    client.get("/missing")
    wire_log.forget_before(mark)
    assert [e.path for e in wire_log.since()[1]] == ["/missing"]


def test_snapshots_are_copies(client: httpx.Client, wire_log: WireLog) -> None:
    client.get("/missing", headers={"Accept": "text/event-stream"})
    _settled(wire_log)
    snapshot = _only_stream(wire_log)
    snapshot.frames.append(snapshot.frames[0] if snapshot.frames else None)  # type: ignore[arg-type]
    snapshot.response_headers.clear()
    assert _only_stream(wire_log).response_headers != {} and _only_stream(wire_log).frames == []


def test_wait_for_times_out_with_false(wire_log: WireLog) -> None:
    started = time.monotonic()
    assert wire_log.wait_for(lambda s, e: bool(s), timeout=0.05) is False
    assert time.monotonic() - started < 2.0


def test_non_http_scopes_pass_through(wire_log: WireLog, own_loop: BackgroundLoop) -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: object, send: object) -> None:
        seen.append(scope["type"])

    async def lifespan_call() -> None:
        await WireRecorder(app, wire_log)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    own_loop.run(lifespan_call(), timeout=10)
    assert seen == ["lifespan"] and wire_log.since() == ([], [])
