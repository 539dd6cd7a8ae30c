"""The fault proxy's HTTP framing (h11) against malformed and unusual clients, on raw loopback sockets.

Each malformed request goes both to the proxy and to uvicorn (the upstream itself), and the proxy
must answer what uvicorn answers: a proxy that framed HTTP by hand answered some of these with
nothing at all, hung on others, or forwarded them. Every socket read is bounded by `WAIT_S`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.proxy import FaultProxy, Limits
from harness.servers import LiveServer

WAIT_S = 3.0
HEAD_TIMEOUT_S = 0.3
BODY_LIMIT = 1000


@dataclass
class Upstream:
    server: LiveServer
    hits: list[str]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    hits: list[str] = []

    async def json_route(request: Request) -> Response:
        hits.append(request.url.path)
        return JSONResponse({"hello": "world"})

    async def echo(request: Request) -> Response:
        hits.append(request.url.path)
        return JSONResponse({"length": len(await request.body())})

    app = Starlette(routes=[Route("/json", json_route), Route("/echo", echo, methods=["POST"])])
    with LiveServer(app) as server:
        yield Upstream(server, hits)


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    limits = Limits(head_timeout=HEAD_TIMEOUT_S, max_body_bytes=BODY_LIMIT)
    with FaultProxy(upstream.server.url, limits=limits) as running:
        yield running


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection closed without a status line
    raw: bytes
    seconds: float  # from the last byte sent to the connection's end


def exchange(port: int, data: bytes, *, half_close: bool = False, stall: bool = False) -> Answer:
    """Sends `data`, then (optionally) shuts down the write side, and reads until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        sent_at = time.monotonic()
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            raise AssertionError(f"no end of answer within {WAIT_S} s (stall={stall}): {bytes(received)!r}") from None
        except ConnectionResetError:
            pass  # a server that closes with unread input resets; what arrived before counts
    raw = bytes(received)
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.") else None
    return Answer(status, raw, time.monotonic() - sent_at)


def chunked_post(size_line: bytes) -> bytes:
    return b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\nabc\r\n0\r\n\r\n"


MALFORMED = {
    # Still incomplete after 20 KiB: over h11's (and uvicorn's) 16 KiB head limit.
    "incomplete_head_over_16_KiB": b"GET /json HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024),
    "content_length_superscript_two": "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ²\r\n\r\nab".encode(),
    "chunk_size_minus_5": chunked_post(b"-5"),
    "chunk_size_0x1e": chunked_post(b"0x1e"),
    "chunk_size_1_e": chunked_post(b"1_e"),
    "bad_request_line": b"GET /json\r\nHost: x\r\n\r\n",
    "header_without_colon": b"GET /json HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    "http_1_1_without_host": b"GET /json HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_requests_are_answered_as_uvicorn_answers(name: str, proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that answers nothing (64 KiB head, `Content-Length: ²`), hangs until the
    client leaves (chunk size -5), accepts what is not a hex chunk size (`0x1e`, `1_e`), or answers
    with another status than uvicorn; and for one that forwards the malformed request upstream."""
    data = MALFORMED[name]
    from_uvicorn = exchange(upstream.server.port, data)
    hits_before = list(upstream.hits)
    from_proxy = exchange(proxy.port, data)
    assert from_uvicorn.status == 400, from_uvicorn.raw[:300]
    assert from_proxy.status == from_uvicorn.status, from_proxy.raw[:300]
    assert b"FaultProxy: invalid HTTP request received" in from_proxy.raw
    assert upstream.hits == hits_before, "the proxy forwarded a malformed request"
    assert proxy.requests == []


@pytest.mark.parametrize("kib", [64, 40])
def test_a_complete_head_over_the_limit_is_refused(kib: int, proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy that gives no answer to a 64 KiB head, and for one that bounds only heads
    still incomplete after a read (h11's own check): a 40 KiB head arriving in one read would pass.
    uvicorn lets such a head through, so the proxy answers what uvicorn answers for a head it finds
    too long: 400."""
    data = b"GET /json HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (kib * 1024) + b"\r\n\r\n"
    hits_before = list(upstream.hits)
    answer = exchange(proxy.port, data)
    assert answer.status == 400, answer.raw[:300]
    assert b"FaultProxy: invalid HTTP request received: head over 16384 bytes" in answer.raw
    assert upstream.hits == hits_before


def test_a_head_just_under_the_limit_is_forwarded(proxy: FaultProxy) -> None:
    """Fails for a limit that counts wrong and refuses a head of allowed size."""
    start = b"GET /json HTTP/1.1\r\nHost: x\r\nX-Big: "
    data = start + b"a" * (16 * 1024 - len(start) - 4) + b"\r\n\r\n"
    assert len(data) == 16 * 1024
    answer = exchange(proxy.port, data)
    assert answer.status == 200, answer.raw[:300]


def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(proxy: FaultProxy) -> None:
    """Fails for a proxy that takes the end of the client's input for a client that left and drops
    the answer (what `curl` or `nc -N` get when they shut down their sending side)."""
    answer = exchange(proxy.port, b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n", half_close=True)
    assert answer.status == 200, answer.raw
    assert answer.raw.endswith(b'{"hello":"world"}')
    assert proxy.wait_finished("/json").outcome == "complete"


def test_a_stalled_half_head_is_answered_and_closed_within_the_head_timeout(proxy: FaultProxy) -> None:
    """Fails for a proxy without a head timeout: a client that sends half a head and stalls holds
    the connection (and a task) forever."""
    answer = exchange(proxy.port, b"GET /json HTTP/1.1\r\nHost: x\r\nX-Half", stall=True)
    assert answer.status == 408, answer.raw
    assert HEAD_TIMEOUT_S * 0.8 <= answer.seconds < HEAD_TIMEOUT_S + 1.0
    assert b"not received within 0.3 s" in answer.raw


@pytest.mark.parametrize("framing", ["content_length", "chunked"])
def test_a_body_over_the_limit_is_answered_413(framing: str, proxy: FaultProxy, upstream: Upstream) -> None:
    """Fails for a proxy without a body limit (it would buffer any body a client sends) or one that
    forwards the oversized request anyway."""
    body = b"x" * (BODY_LIMIT + 1)
    if framing == "content_length":
        data = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    else:
        data = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%b\r\n0\r\n\r\n" % (
            len(body),
            body,
        )
    hits_before = list(upstream.hits)
    answer = exchange(proxy.port, data)
    assert answer.status == 413, answer.raw
    assert f"over {BODY_LIMIT} bytes".encode() in answer.raw
    assert upstream.hits == hits_before


def test_a_body_at_the_limit_is_forwarded(proxy: FaultProxy) -> None:
    """Fails for an off-by-one limit that rejects a body of exactly the allowed size."""
    body = b"x" * BODY_LIMIT
    answer = exchange(proxy.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
    assert answer.status == 200, answer.raw
    assert answer.raw.endswith(b'{"length":%d}' % BODY_LIMIT)


def test_a_client_that_connects_and_leaves_is_not_logged(proxy: FaultProxy) -> None:
    """Fails for a proxy that logs (or answers) a connection without a request, as a browser's
    speculative preconnect is."""
    answer = exchange(proxy.port, b"", half_close=True)
    assert answer.status is None and answer.raw == b""
    assert proxy.requests == []


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="head_timeout=0"):
        Limits(head_timeout=0)
