"""The faults (`harness.proxy` exports them), each owning its transform of the response head and body.

The same objects serve the fault proxy and `FaultMiddleware` (backend mutants); see `_fault.py` for
the hooks. Every fault has `path_contains` (only matching request targets are affected).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

from harness.proxy._fault import (
    CannedAnswer,
    Cut,
    Fault,
    Headers,
    ResponseHead,
    UpstreamTimeout,
    header,
    without,
)
from harness.sse import SSEDecoder, SSEEvent


@dataclass(frozen=True)
class PassThrough(Fault):
    """Forward everything unchanged, each chunk as soon as it arrives."""

    path_contains: str | None = None


async def _buffer_all(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
    if body:
        yield bytes(body)


@dataclass(frozen=True)
class BufferBody(Fault):
    """Hold the whole response body until upstream ends (a buffering middleware or proxy that
    knows no opt-out)."""

    path_contains: str | None = None

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return _buffer_all(chunks)


@dataclass(frozen=True)
class BufferUnlessAccelOff(Fault):
    """Hold the whole response body until upstream ends, unless it has `X-Accel-Buffering: no`
    (nginx's `proxy_buffering on`)."""

    path_contains: str | None = None

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        accel_off = (head.header("x-accel-buffering") or "").strip().lower() == "no"
        return chunks if accel_off else _buffer_all(chunks)


async def _gzip(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    # No Z_SYNC_FLUSH per chunk: a compressing proxy holds small events until zlib's window fills.
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: gzip container
    async for chunk in chunks:
        if compressed := compressor.compress(chunk):
            yield compressed
    yield compressor.flush()


@dataclass(frozen=True)
class Gzip(Fault):
    """Compress the body like a CDN: one stream-wide compressor, emitting only what zlib releases.
    A body already encoded, or a response without a body, is left alone."""

    path_contains: str | None = None

    @staticmethod
    def _compresses(head: ResponseHead) -> bool:
        return head.has_body and head.header("content-encoding") is None

    def transform_head(self, head: ResponseHead) -> ResponseHead:
        if not self._compresses(head):
            return head
        return head.with_headers([*without(head.headers, "content-length"), ("Content-Encoding", "gzip")])

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return _gzip(chunks) if self._compresses(head) else chunks


async def _cut_after_bytes(chunks: AsyncIterator[bytes], n: int) -> AsyncIterator[bytes]:
    sent = 0
    if n == 0:
        raise Cut("cut before the first body byte")
    async for chunk in chunks:
        piece = chunk[: n - sent]
        sent += len(piece)
        yield piece
        if sent >= n:
            raise Cut(f"cut after {n} body bytes")


@dataclass(frozen=True)
class CutAfterBytes(Fault):
    """Close the client connection right after `n` body bytes (no end of body is sent)."""

    n: int
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"CutAfterBytes needs n >= 0, got {self.n!r}")

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return _cut_after_bytes(chunks, self.n)


async def _cut_after_events(chunks: AsyncIterator[bytes], n: int) -> AsyncIterator[bytes]:
    # The browser-faithful parser decides what counts, so the cut agrees with EventSource's dispatch.
    decoder = SSEDecoder()
    seen = 0
    async for chunk in chunks:
        for end, observation in decoder.feed_with_offsets(chunk):
            if isinstance(observation, SSEEvent):
                seen += 1
                if seen == n:
                    yield chunk[:end]
                    raise Cut(f"cut after {n} SSE events")
        yield chunk


@dataclass(frozen=True)
class CutAfterEvents(Fault):
    """Close the client connection right after the `n`-th SSE event a browser would dispatch.

    Only blocks with a `data` field count (what EventSource dispatches): heartbeat comments and
    `retry`-only blocks do not, so their timing cannot move the cut.
    """

    n: int
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"CutAfterEvents needs n >= 1, got {self.n!r}")

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return _cut_after_events(chunks, self.n)


async def _cut_when_idle(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    iterator = aiter(chunks)
    while True:
        try:
            chunk = await asyncio.wait_for(anext(iterator), seconds)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise Cut(f"no byte from upstream for {seconds} s") from None
        yield chunk


@dataclass(frozen=True)
class IdleTimeout(Fault):
    """Close the client connection when upstream sent no byte for `seconds` (nginx's
    proxy_read_timeout); before the response head that is a 504, as nginx answers."""

    seconds: float
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"IdleTimeout needs seconds > 0, got {self.seconds!r}")

    async def receive_head(self, head: Awaitable[ResponseHead]) -> ResponseHead:
        try:
            return await asyncio.wait_for(head, self.seconds)
        except TimeoutError:
            raise UpstreamTimeout(f"no response head from upstream for {self.seconds} s") from None

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return _cut_when_idle(chunks, self.seconds)


async def _delay_each(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        await asyncio.sleep(seconds)
        yield chunk


@dataclass(frozen=True)
class Latency(Fault):
    """Delay the response head and each forwarded body chunk by `seconds` (delays add up)."""

    seconds: float
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError(f"Latency needs seconds >= 0, got {self.seconds!r}")

    async def receive_head(self, head: Awaitable[ResponseHead]) -> ResponseHead:
        received = await head
        await asyncio.sleep(self.seconds)
        return received

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return _delay_each(chunks, self.seconds)


@dataclass(frozen=True)
class CannedStatus(Fault):
    """Answer the next `times` matching requests with `status` without contacting upstream.

    Like nginx's own error pages, the answer carries no CORS headers; `echo_origin=True` reflects
    the request's Origin (as `add_header ... always` would). Chromium closes an EventSource for good
    on either (readyState 2, no reconnect), same-origin or not.
    """

    status: int
    times: int = 1
    body: str = "Canned response from FaultProxy"
    path_contains: str | None = None
    echo_origin: bool = False
    content_type: str = "text/plain; charset=utf-8"

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 599:  # a 1xx is never a final answer
            raise ValueError(f"CannedStatus needs a final HTTP status 200-599, got {self.status!r}")
        if self.times < 1:
            raise ValueError(f"CannedStatus needs times >= 1, got {self.times!r}")

    @property
    def uses(self) -> int | None:
        return self.times

    def canned_answer(self, request_headers: Headers) -> CannedAnswer:
        headers: Headers = []
        bodiless = self.status in (204, 304)
        body = b"" if bodiless else self.body.encode("utf-8")
        if not bodiless:
            headers += [("Content-Type", self.content_type), ("Content-Length", str(len(body)))]
        origin = header(request_headers, "origin")
        if self.echo_origin and origin is not None:
            headers += [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Credentials", "true"),
                ("Vary", "Origin"),
            ]
        return CannedAnswer(ResponseHead(self.status, headers, has_body=not bodiless), body)
