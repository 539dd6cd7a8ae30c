"""Tests for harness.proxy: each fault against a real upstream on loopback.

The upstream is a small Starlette app served by LiveServer. Its SSE route plays a script: bytes to
send, gates the test opens (so "the upstream has not sent event 2 yet" is a fact, not a timing), and
short sleeps where the upstream's own timing is the point (heartbeats). Reads go through httpx on a
thread that records every chunk with its arrival time. Each test's docstring names the broken proxy
it catches.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import socket
import socketserver
import threading
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from harness.proxy import (
    BufferBody,
    BufferUnlessAccelOff,
    CannedStatus,
    Cut,
    CutAfterBytes,
    CutAfterEvents,
    Fault,
    FaultMiddleware,
    FaultProxy,
    Gzip,
    IdleTimeout,
    Latency,
    PassThrough,
    ProxiedRequest,
    ResponseHead,
)
from harness.servers import BackgroundLoop, LiveServer
from harness.sse import SSEDecoder, SSEEvent

WAIT_S = 3.0  # bound for things that should happen at once on loopback
QUIET_WINDOW_S = 0.3  # how long "nothing arrived" must hold to prove holding/buffering
PAGE_ORIGIN = "http://page.example"
BIG_BODY = bytes(range(256)) * 40
# Vendored in the repository (see tests/vectors/PROVENANCE.md); a missing file fails the test, never skips it.
SSE_VECTORS = Path(__file__).with_name("vectors") / "sse-parsing-vectors.json"

E1 = b'event: progress\ndata: {"message": "one"}\n\n'
E2 = b'event: progress\ndata: {"message": "two"}\n\n'
E3 = b'event: success\ndata: {"message": "three"}\n\n'


# --- The upstream ----------------------------------------------------------------------------------


class Gate:
    """Opened from the test thread, awaited on the upstream's event loop without blocking a thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._is_open = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.opened_at: float | None = None
        self.reached = threading.Event()  # the upstream got to this gate (sent what came before)

    async def wait(self) -> None:
        self.reached.set()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._is_open:
                return
            self._waiters.append((loop, waiter))
        await waiter

    def open(self) -> None:
        with self._lock:
            self._is_open = True
            self.opened_at = time.monotonic()
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            loop.call_soon_threadsafe(_release, waiter)


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # a cancelled wait (the client left) must not raise InvalidStateError
        waiter.set_result(None)


Step = bytes | Gate | float  # send bytes / wait for the gate / upstream sleeps (its own timing)


@dataclass
class Script:
    steps: list[Step]
    accel_off: bool = True
    head_gate: Gate | None = None  # awaited before the response head is sent
    finished: threading.Event = field(default_factory=threading.Event)  # generator ended or was cancelled

    def gates(self) -> list[Gate]:
        gates = [step for step in self.steps if isinstance(step, Gate)]
        return gates + ([self.head_gate] if self.head_gate else [])


class Upstream:
    """The backend behind the proxy: JSON, echo, big body and scripted SSE routes."""

    def __init__(self, wrap: Callable[[ASGIApp], ASGIApp] = lambda app: app) -> None:
        self.scripts: dict[str, Script] = {}
        self.hits: list[tuple[str, str]] = []
        routes = [
            Route("/json", self._json),
            Route("/big", self._big),
            Route("/echo", self._echo, methods=["POST"]),
            Route("/stream/{key}", self._stream),
        ]
        app = Starlette(routes=routes)
        app.add_middleware(CORSMiddleware, allow_origins=[PAGE_ORIGIN], allow_methods=["GET", "POST"])
        self.server = LiveServer(self._recording(wrap(app)))

    def _recording(self, app: ASGIApp) -> ASGIApp:
        async def record_hits(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                self.hits.append((scope["method"], scope["path"]))
            await app(scope, receive, send)

        return record_hits

    def stream(self, steps: list[Step], *, accel_off: bool = True, head_gate: Gate | None = None) -> tuple[str, Script]:
        key = uuid.uuid4().hex
        script = self.scripts[key] = Script(steps, accel_off, head_gate)
        return f"/stream/{key}", script

    def hit_count(self, path: str) -> int:
        return sum(hit_path == path for _, hit_path in self.hits)

    async def _json(self, request: Request) -> Response:
        return JSONResponse({"hello": "world", "numbers": list(range(20))})

    async def _big(self, request: Request) -> Response:
        return Response(BIG_BODY, media_type="application/octet-stream")

    async def _echo(self, request: Request) -> Response:
        body = await request.body()
        return JSONResponse({"body": body.decode(), "content_type": request.headers.get("content-type")})

    async def _stream(self, request: Request) -> Response:
        script = self.scripts[request.path_params["key"]]
        if script.head_gate is not None:
            await script.head_gate.wait()

        async def play() -> AsyncIterator[bytes]:
            try:
                for step in script.steps:
                    if isinstance(step, Gate):
                        await step.wait()
                    elif isinstance(step, float):
                        await asyncio.sleep(step)
                    else:
                        yield step
            finally:
                script.finished.set()

        headers = {"Cache-Control": "no-cache"} | ({"X-Accel-Buffering": "no"} if script.accel_off else {})
        return StreamingResponse(play(), media_type="text/event-stream", headers=headers)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    backend = Upstream()
    with backend.server:
        yield backend


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.server.url) as running:
        yield running
    for script in upstream.scripts.values():  # release generators a test left waiting
        for gate in script.gates():
            gate.open()


# --- The client side -------------------------------------------------------------------------------


class Recorder:
    """Reads one response on a thread with httpx, recording raw body chunks as they arrive."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self._changed = threading.Condition()
        self.chunks: list[tuple[float, bytes]] = []
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self.error: httpx.HTTPError | None = None
        self.closed_at: float | None = None
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5.0)) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                with self._changed:
                    self.status, self.headers = response.status_code, response.headers
                for chunk in response.iter_raw():
                    with self._changed:
                        self.chunks.append((time.monotonic(), chunk))
                        self._changed.notify_all()
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            with self._changed:
                self.closed_at = time.monotonic()
                self._changed.notify_all()

    @property
    def body(self) -> bytes:
        with self._changed:
            return b"".join(chunk for _, chunk in self.chunks)

    def arrival_of(self, data: bytes) -> float:
        """When the body first contained `data`."""
        with self._changed:
            seen = b""
            for at, chunk in self.chunks:
                seen += chunk
                if data in seen:
                    return at
        raise AssertionError(f"{data!r} never arrived; body: {self.body!r}")

    def holds_within(self, predicate: Callable[[bytes], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(b"".join(c for _, c in self.chunks)), timeout)

    def wait_for_body(self, predicate: Callable[[bytes], bool], timeout: float = WAIT_S) -> bytes:
        assert self.holds_within(predicate, timeout), f"body never matched within {timeout} s: {self.body!r}"
        return self.body

    def wait_closed(self, timeout: float = WAIT_S) -> float:
        with self._changed:
            closed = self._changed.wait_for(lambda: self.closed_at is not None, timeout)
        assert closed, f"response still open after {timeout} s; body so far: {self.body!r}"
        assert self.closed_at is not None
        return self.closed_at


def gunzip_so_far(data: bytes) -> bytes:
    """What a browser could already decode from a partial gzip body."""
    return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data)


def request_matches(path: str, predicate: Callable[[ProxiedRequest], bool]) -> Callable[[list[ProxiedRequest]], bool]:
    return lambda requests: any(r.path == path and predicate(r) for r in requests)


# --- Pass-through ----------------------------------------------------------------------------------


def test_pass_through_forwards_each_event_before_the_next_is_sent(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that buffers or batches: event one must arrive while upstream holds two."""
    gate = Gate()
    path, _ = upstream.stream([E1, gate, E2])
    reader = Recorder(proxy.url + path)

    reader.wait_for_body(lambda body: body == E1)
    gate.open()
    reader.wait_closed()

    assert reader.error is None, reader.error
    assert reader.body == E1 + E2
    assert reader.arrival_of(E1) < gate.opened_at <= reader.arrival_of(E2)  # type: ignore[operator]
    assert reader.headers is not None and reader.headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in reader.headers
    assert reader.headers["x-accel-buffering"] == "no"
    record = proxy.wait_finished(path)
    assert len(proxy.requests) == 1
    assert (record.method, record.path, record.status, record.fault, record.outcome) == (
        "GET",
        path,
        200,
        "PassThrough",
        "complete",
    )


def test_pass_through_keeps_json_and_forwards_request_bodies(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that drops request bodies, rewrites the body or loses Content-Length framing."""
    direct = httpx.get(upstream.server.url + "/json")
    proxied = httpx.get(proxy.url + "/json")
    assert proxied.status_code == 200
    assert proxied.content == direct.content
    assert proxied.headers["content-length"] == str(len(direct.content))

    posted = httpx.post(
        proxy.url + "/echo", content=b'{"topic": "caf\xc3\xa9"}', headers={"Content-Type": "application/json"}
    )
    assert posted.json() == {"body": '{"topic": "café"}', "content_type": "application/json"}
    assert [(r.method, r.path, r.status) for r in proxy.requests] == [("GET", "/json", 200), ("POST", "/echo", 200)]


def test_cors_preflight_is_forwarded(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that answers OPTIONS itself or strips the upstream's CORS headers."""
    before = upstream.hit_count("/echo")
    response = httpx.options(
        proxy.url + "/echo",
        headers={"Origin": PAGE_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert upstream.hit_count("/echo") == before + 1


def test_close_delimited_upstream_body_is_forwarded_whole() -> None:
    """Fails for a proxy that only understands Content-Length or chunked upstream bodies."""

    class CloseDelimited(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody ended by close")

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), CloseDelimited) as raw_upstream:
        threading.Thread(target=raw_upstream.serve_forever, daemon=True).start()
        try:
            with FaultProxy(f"http://127.0.0.1:{raw_upstream.server_address[1]}") as proxy:
                response = httpx.get(proxy.url + "/anything")
        finally:
            raw_upstream.shutdown()
    assert (response.status_code, response.text) == (200, "body ended by close")


def test_unreachable_upstream_answers_502(free_port: int) -> None:
    """Fails for a proxy that hangs or drops the connection when the backend is down."""
    with FaultProxy(f"http://127.0.0.1:{free_port}") as proxy:
        response = httpx.get(proxy.url + "/json")
        assert response.status_code == 502
        assert f"127.0.0.1:{free_port}" in response.text
        record = proxy.wait_finished("/json")
        assert (record.status, record.outcome) == (502, "upstream_error")


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- Buffering ----------------------------------------------------------------------------------


def test_buffer_holds_the_body_until_upstream_ends(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that forwards early: nothing may arrive while upstream holds the stream."""
    proxy.set_fault(BufferUnlessAccelOff())
    gate = Gate()
    path, _ = upstream.stream([E1, gate, E2], accel_off=False)
    reader = Recorder(proxy.url + path)

    proxy.wait_for_requests(request_matches(path, lambda r: r.upstream_bytes >= len(E1)), WAIT_S)
    assert not reader.holds_within(lambda body: body != b"", QUIET_WINDOW_S), f"forwarded early: {reader.body!r}"
    gate.open()
    reader.wait_closed()

    assert reader.error is None, reader.error
    assert reader.body == E1 + E2
    assert reader.arrival_of(E1) >= gate.opened_at  # type: ignore[operator]
    assert proxy.requests[-1].fault == "BufferUnlessAccelOff"


def test_buffer_streams_responses_marked_accel_off(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that buffers regardless of `X-Accel-Buffering: no`."""
    proxy.set_fault(BufferUnlessAccelOff())
    gate = Gate()
    path, _ = upstream.stream([E1, gate, E2], accel_off=True)
    reader = Recorder(proxy.url + path)

    reader.wait_for_body(lambda body: body == E1)
    gate.open()
    reader.wait_closed()
    assert reader.body == E1 + E2


# --- Compression ---------------------------------------------------------------------------------


def test_gzip_holds_small_events_and_decompresses_to_the_original(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that sync-flushes each chunk (event one decodable early), that forgets the
    header, or whose bytes do not decompress to what upstream sent."""
    proxy.set_fault(Gzip())
    gate = Gate()
    path, _ = upstream.stream([E1, gate, E2, E3])
    reader = Recorder(proxy.url + path)

    proxy.wait_for_requests(request_matches(path, lambda r: r.upstream_bytes >= len(E1)), WAIT_S)
    assert not reader.holds_within(lambda body: gunzip_so_far(body) != b"", QUIET_WINDOW_S), (
        f"event decodable before upstream ended: {gunzip_so_far(reader.body)!r}"
    )
    gate.open()
    reader.wait_closed()

    assert reader.error is None, reader.error
    assert reader.headers is not None and reader.headers["content-encoding"] == "gzip"
    assert gzip.decompress(reader.body) == E1 + E2 + E3


def test_gzip_replaces_content_length_on_json(proxy: FaultProxy) -> None:
    """Fails for a proxy that keeps the uncompressed Content-Length (the client would misframe)."""
    proxy.set_fault(Gzip())
    response = httpx.get(proxy.url + "/json")  # httpx decodes gzip like a browser
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    assert response.json() == {"hello": "world", "numbers": list(range(20))}


# --- Cuts ------------------------------------------------------------------------------------------


def test_cut_after_bytes_closes_mid_stream_without_waiting(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that cuts late (waits for more upstream bytes) or at the wrong byte, or that
    leaves the upstream stream running."""
    n = len(E1) + 7
    proxy.set_fault(CutAfterBytes(n))
    path, script = upstream.stream([E1, E2, Gate(), E3])
    reader = Recorder(proxy.url + path)

    reader.wait_closed()
    assert reader.body == (E1 + E2)[:n]
    assert isinstance(reader.error, httpx.RemoteProtocolError), reader.error  # chunked body left unfinished
    assert script.finished.wait(WAIT_S), "upstream stream still open after the cut"
    assert proxy.wait_finished(path).outcome == "cut"


def test_cut_after_bytes_truncates_a_content_length_body(proxy: FaultProxy) -> None:
    """Fails for a proxy that ignores the cut on non-streaming responses."""
    proxy.set_fault(CutAfterBytes(100))
    reader = Recorder(proxy.url + "/big")
    reader.wait_closed()
    assert reader.body == BIG_BODY[:100]
    assert isinstance(reader.error, httpx.RemoteProtocolError), reader.error


def test_cut_after_events_counts_only_dispatched_events(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that counts comments or retry-only blocks (cuts before event two), that only
    knows LF endings (misses the CRLF event two and keeps going), or that waits for more upstream data."""
    proxy.set_fault(CutAfterEvents(2))
    crlf_event = b'event: progress\r\ndata: {"message": "crlf"}\r\n\r\n'
    path, _ = upstream.stream(
        [b"retry: 1000\n\n", b": ping\n\n", E1, b": ping\r\n\r\n", crlf_event[:20], crlf_event[20:], Gate(), E3]
    )
    reader = Recorder(proxy.url + path)

    reader.wait_closed()
    assert reader.body == b"retry: 1000\n\n: ping\n\n" + E1 + b": ping\r\n\r\n" + crlf_event
    assert proxy.wait_finished(path).outcome == "cut"


def test_fault_applies_to_later_requests_and_matching_paths_only(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that changes the fault of a request in flight, or ignores `path_contains`."""
    gate = Gate()
    path, _ = upstream.stream([E1, gate, E2])
    in_flight = Recorder(proxy.url + path)
    in_flight.wait_for_body(lambda body: body == E1)

    proxy.set_fault(CutAfterBytes(3, path_contains="/stream/"))
    gate.open()
    in_flight.wait_closed()
    assert (in_flight.error, in_flight.body) == (None, E1 + E2)

    assert httpx.get(proxy.url + "/json").json()["hello"] == "world"  # not matched: passes whole
    later_path, _ = upstream.stream([E1, E2])
    later = Recorder(proxy.url + later_path)
    later.wait_closed()
    assert later.body == E1[:3]
    assert [r.fault for r in proxy.requests] == ["PassThrough", "PassThrough", "CutAfterBytes"]


def parsing_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(SSE_VECTORS.read_text(encoding="utf-8"))["vectors"]
    assert vectors, f"no parsing vectors in {SSE_VECTORS}"
    return vectors


async def _cut_output(fault: CutAfterEvents, data: bytes, piece_size: int) -> tuple[bytes, bool]:
    """What `fault` lets through of `data` fed in pieces, and whether it cut."""

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(data), piece_size):
            yield data[i : i + piece_size]

    out = bytearray()
    try:
        async for piece in fault.transform_body(ResponseHead(200, []), pieces()):
            out += piece
    except Cut:
        return bytes(out), True
    return bytes(out), False


@pytest.mark.parametrize("piece_size", [1, 1 << 20], ids=["byte_by_byte", "whole"])
def test_event_cut_matches_browser_dispatch(piece_size: int, own_loop: BackgroundLoop) -> None:
    """Fails for an event counter that differs from EventSource on any browser parsing vector (BOM,
    CR-only endings, comments, `data` without colon, unterminated last event...): CutAfterEvents(n)
    must let exactly the first n dispatched events through and cut right after the n-th, and must
    not cut a stream that has fewer."""
    mismatches = []
    for vector in parsing_vectors():
        data = base64.b64decode(vector["input_base64"])
        expected = len(vector["expected"])
        for n in range(1, expected + 2):
            out, cut = own_loop.run(_cut_output(CutAfterEvents(n), data, piece_size), timeout=10)
            seen = [o for o in SSEDecoder().feed(out) if isinstance(o, SSEEvent)]
            want = (min(n, expected), n <= expected)
            if (len(seen), cut) != want:
                mismatches.append(f"{vector['name']} n={n}: passed {len(seen)} events, cut={cut}; want {want}")
            if cut and not data.startswith(out):
                mismatches.append(f"{vector['name']} n={n}: output is not a prefix of the stream")
    assert mismatches == []


# --- Idle timeout -----------------------------------------------------------------------------------


def test_idle_timeout_cuts_a_quiet_stream(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy without the timeout (hangs), that cuts too early or far too late, or that
    leaves the upstream stream open after the cut."""
    timeout_s = 0.3
    proxy.set_fault(IdleTimeout(timeout_s))
    path, script = upstream.stream([E1, Gate()])
    reader = Recorder(proxy.url + path)

    closed_at = reader.wait_closed()
    assert reader.body == E1
    quiet_for = closed_at - reader.arrival_of(E1)
    assert timeout_s - 0.05 <= quiet_for < timeout_s + 1.0, f"cut after {quiet_for:.3f} s of silence"
    assert script.finished.wait(WAIT_S), "upstream stream still open after the idle cut"
    assert proxy.wait_finished(path).outcome == "cut"


def test_idle_timeout_spares_a_stream_with_faster_heartbeats(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy whose idle timer is not reset by each byte (cuts 0.5 s after the start,
    while the stream lasts 0.8 s). Heartbeats every 0.05 s leave a 10x margin for a loaded machine."""
    proxy.set_fault(IdleTimeout(0.5))
    heartbeats: list[Step] = [step for _ in range(16) for step in (0.05, b": heartbeat\n\n")]
    path, _ = upstream.stream([E1, *heartbeats, E3])
    reader = Recorder(proxy.url + path)

    reader.wait_closed()
    assert reader.error is None, reader.error
    assert reader.body == E1 + b": heartbeat\n\n" * 16 + E3
    assert proxy.wait_finished(path).outcome == "complete"


def test_idle_timeout_before_the_response_head_answers_504(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that waits forever for a silent upstream's head (nginx answers 504)."""
    proxy.set_fault(IdleTimeout(0.2))
    path, _ = upstream.stream([E1], head_gate=Gate())
    response = httpx.get(proxy.url + path, timeout=WAIT_S)
    assert response.status_code == 504, response.text
    record = proxy.wait_finished(path)
    assert (record.status, record.outcome) == (504, "cut")


# --- Latency -------------------------------------------------------------------------------------


def test_latency_delays_the_head_and_every_chunk(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that delays only the first byte, or not at all."""
    delay_s = 0.2
    proxy.set_fault(Latency(delay_s))
    gate = Gate()
    path, _ = upstream.stream([E1, gate, E2])
    reader = Recorder(proxy.url + path)

    reader.wait_for_body(lambda body: body == E1)
    assert reader.arrival_of(E1) - reader.started_at >= 2 * delay_s - 0.05  # head, then chunk
    gate.open()
    reader.wait_closed()
    assert reader.body == E1 + E2
    assert delay_s - 0.05 <= reader.arrival_of(E2) - gate.opened_at < delay_s + 1.0  # type: ignore[operator]


# --- Canned answers ------------------------------------------------------------------------------


def test_canned_status_counts_down_without_contacting_upstream(proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that forwards canned requests, never stops answering them, or lets other
    paths use up the count."""
    before = upstream.hit_count("/json")
    proxy.set_fault(CannedStatus(502, times=2, body="deploy in progress", path_contains="/json"))

    first = httpx.get(proxy.url + "/json")
    other = httpx.post(proxy.url + "/echo", content=b"x")
    second = httpx.get(proxy.url + "/json")
    third = httpx.get(proxy.url + "/json")

    assert [first.status_code, other.status_code, second.status_code, third.status_code] == [502, 200, 502, 200]
    assert first.text == second.text == "deploy in progress"
    assert "access-control-allow-origin" not in first.headers
    assert upstream.hit_count("/json") == before + 1
    assert [(r.fault, r.status) for r in proxy.requests] == [
        ("CannedStatus", 502),
        ("PassThrough", 200),
        ("CannedStatus", 502),
        ("PassThrough", 200),
    ]
    assert proxy.count("/json") == 3


def test_canned_204_has_no_body_and_can_echo_the_origin(proxy: FaultProxy) -> None:
    """Fails for a proxy that sends a body with 204 (invalid HTTP) or ignores `echo_origin`."""
    proxy.set_fault(CannedStatus(204, echo_origin=True))
    # Raw socket: httpx would silently drop bytes after a 204 head, hiding an invalid body.
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT_S) as sock:
        sock.sendall(f"GET /json HTTP/1.1\r\nHost: x\r\nOrigin: {PAGE_ORIGIN}\r\n\r\n".encode())
        received = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 "), received
    assert f"Access-Control-Allow-Origin: {PAGE_ORIGIN}".encode() in head.split(b"\r\n"), received
    assert body == b"", received
    assert httpx.get(proxy.url + "/json").status_code == 200


# --- The same faults as ASGI middleware (backend mutants) ------------------------------------------


@pytest.fixture
def served() -> Iterator[Callable[..., Upstream]]:
    """Serves the upstream app wrapped in `FaultMiddleware(app, fault, content_type=...)`."""
    started: list[Upstream] = []

    def serve(fault: Fault, content_type: str | None = None) -> Upstream:
        backend = Upstream(lambda app: FaultMiddleware(app, fault, content_type=content_type))
        started.append(backend)
        backend.server.start()
        return backend

    yield serve
    for backend in started:
        for script in backend.scripts.values():
            for gate in script.gates():
                gate.open()
        backend.server.stop()


def test_middleware_gzip_holds_small_events_and_leaves_other_types_alone(served: Callable[..., Upstream]) -> None:
    """Fails for a middleware that does not apply the proxy's Gzip (events decodable before the
    stream ends, no Content-Encoding, bytes that do not decompress to the original), or that also
    compresses responses outside its content type."""
    backend = served(Gzip(), content_type="text/event-stream")
    gate = Gate()
    path, _ = backend.stream([E1, gate, E2, E3])
    reader = Recorder(backend.server.url + path)
    assert gate.reached.wait(WAIT_S)
    assert not reader.holds_within(lambda body: gunzip_so_far(body) != b"", QUIET_WINDOW_S), (
        f"event decodable before upstream ended: {gunzip_so_far(reader.body)!r}"
    )
    gate.open()
    reader.wait_closed()
    assert reader.error is None, reader.error
    assert reader.headers is not None and reader.headers["content-encoding"] == "gzip"
    assert "content-length" not in reader.headers
    assert gzip.decompress(reader.body) == E1 + E2 + E3

    plain = httpx.get(backend.server.url + "/json")
    assert "content-encoding" not in plain.headers and plain.json()["hello"] == "world"


def test_middleware_buffer_holds_the_stream_until_it_ends(served: Callable[..., Upstream]) -> None:
    """Fails for a buffering middleware that forwards early, or loses or reorders bytes."""
    backend = served(BufferBody(), content_type="text/event-stream")
    gate = Gate()
    path, _ = backend.stream([E1, gate, E2])
    reader = Recorder(backend.server.url + path)
    assert gate.reached.wait(WAIT_S)
    assert not reader.holds_within(lambda body: body != b"", QUIET_WINDOW_S), f"forwarded early: {reader.body!r}"
    gate.open()
    reader.wait_closed()
    assert reader.error is None, reader.error
    assert reader.body == E1 + E2
    assert reader.arrival_of(E1) >= gate.opened_at  # type: ignore[operator]


def test_middleware_cuts_and_cans_like_the_proxy(served: Callable[..., Upstream]) -> None:
    """Fails for a middleware that ignores a fault's Cut (the stream goes on) or its canned answer."""
    backend = served(CutAfterEvents(1, path_contains="/stream/"))
    path, _ = backend.stream([E1, E2, Gate(), E3])
    reader = Recorder(backend.server.url + path)
    reader.wait_closed()
    assert reader.body == E1

    canned = served(CannedStatus(503, body="maintenance", path_contains="/json"))
    answer = httpx.get(canned.server.url + "/json")
    assert (answer.status_code, answer.text) == (503, "maintenance")
    assert canned.hit_count("/json") == 1  # the middleware sits inside the hit recorder: upstream app untouched


def test_middleware_needs_a_fault() -> None:
    with pytest.raises(TypeError, match="'gzip'"):
        FaultMiddleware(Starlette(), "gzip")  # type: ignore[arg-type]


# --- Disconnects and shutdown -------------------------------------------------------------------------


def test_client_disconnect_closes_upstream_quietly(
    proxy: FaultProxy, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """Fails for a proxy that keeps the upstream stream open after the client left (a leak the
    backend's live-stream count would show), or that logs the expected disconnect as a problem."""
    caplog.set_level(logging.DEBUG)
    path, script = upstream.stream([E1, Gate(), E2])
    with httpx.Client(timeout=WAIT_S) as client, client.stream("GET", proxy.url + path) as response:
        assert next(response.iter_raw()) == E1
    assert script.finished.wait(WAIT_S), "upstream stream still open after the client left"
    assert proxy.wait_finished(path).outcome == "client_gone"
    assert noisy_records(caplog) == []


def test_stop_is_bounded_with_a_stream_open(upstream: Upstream, caplog: pytest.LogCaptureFixture) -> None:
    """Fails for a proxy whose stop() waits for open streams to end, or that lets asyncio log the
    cancelled connections as errors."""
    caplog.set_level(logging.DEBUG)
    path, _ = upstream.stream([E1, Gate()])
    proxy = FaultProxy(upstream.server.url).start()
    reader = Recorder(proxy.url + path)
    reader.wait_for_body(lambda body: body == E1)

    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 2.0
    reader.wait_closed()
    assert noisy_records(caplog) == []


def noisy_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings and errors from the proxy or asyncio (expected disconnects must stay at debug)."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("harness", "asyncio"))
    ]


def test_invalid_arguments_are_rejected_with_the_value() -> None:
    with pytest.raises(ValueError, match="'ftp://example'"):
        FaultProxy("ftp://example")
    with pytest.raises(ValueError, match="-1"):
        CutAfterBytes(-1)
    with pytest.raises(ValueError, match="0"):
        CannedStatus(502, times=0)
    with pytest.raises(TypeError, match="'gzip'"):
        FaultProxy("http://127.0.0.1:1").set_fault("gzip")  # type: ignore[arg-type]
    assert PassThrough() == PassThrough(path_contains=None)
