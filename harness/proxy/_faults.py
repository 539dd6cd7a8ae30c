"""The fault proxy's faults (`harness.proxy` exports them) and the body transformation
each one applies to a response as it streams through."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from harness.proxy._http import Headers, header

_BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark; EventSource ignores one at the start of the stream

# --- Faults -----------------------------------------------------------------------------------
# Every fault has `path_contains`: when set, only requests whose target (path and query) contains
# it are affected, others pass through (so a fault can target the stream URL and leave the page's
# assets alone).


@dataclass(frozen=True)
class PassThrough:
    """Forward everything unchanged, each chunk as soon as it arrives."""

    path_contains: str | None = None


@dataclass(frozen=True)
class BufferUnlessAccelOff:
    """Hold the whole response body until upstream ends, unless it has `X-Accel-Buffering: no`."""

    path_contains: str | None = None


@dataclass(frozen=True)
class Gzip:
    """Compress the body like a CDN: one stream-wide compressor, emitting only what zlib releases."""

    path_contains: str | None = None


@dataclass(frozen=True)
class CutAfterBytes:
    """Close the client connection right after `n` body bytes (no end of body is sent)."""

    n: int
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"CutAfterBytes needs n >= 0, got {self.n!r}")


@dataclass(frozen=True)
class CutAfterEvents:
    """Close the client connection right after the `n`-th SSE event a browser would dispatch.

    Only blocks with a `data` field count (what EventSource dispatches): heartbeat comments and
    `retry`-only blocks do not, so their timing cannot move the cut.
    """

    n: int
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"CutAfterEvents needs n >= 1, got {self.n!r}")


@dataclass(frozen=True)
class IdleTimeout:
    """Close the client connection when upstream sent no byte for `seconds` (nginx's
    proxy_read_timeout); before the response head that is a 504, as nginx answers."""

    seconds: float
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"IdleTimeout needs seconds > 0, got {self.seconds!r}")


@dataclass(frozen=True)
class Latency:
    """Delay the response head and each forwarded body chunk by `seconds` (delays add up)."""

    seconds: float
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError(f"Latency needs seconds >= 0, got {self.seconds!r}")


@dataclass(frozen=True)
class CannedStatus:
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
        if not 100 <= self.status <= 599:
            raise ValueError(f"CannedStatus needs an HTTP status 100-599, got {self.status!r}")
        if self.times < 1:
            raise ValueError(f"CannedStatus needs times >= 1, got {self.times!r}")


Fault = (
    PassThrough | BufferUnlessAccelOff | Gzip | CutAfterBytes | CutAfterEvents | IdleTimeout | Latency | CannedStatus
)
FAULT_TYPES = (
    PassThrough,
    BufferUnlessAccelOff,
    Gzip,
    CutAfterBytes,
    CutAfterEvents,
    IdleTimeout,
    Latency,
    CannedStatus,
)

# --- Body transformations, one per fault ----------------------------------------------------------


class Cut(Exception):
    """The fault decided to close the client connection here."""


class _SseEventEnds:
    """Finds where dispatched SSE events end in a byte stream fed in arbitrary pieces.

    Follows the WHATWG rules that decide dispatch: a leading BOM is skipped; lines end with CRLF,
    LF or CR; a blank line ends the block; the block dispatches only if it had a `data` field.
    Hand-written because parsers (httpx-sse included) yield events, not the byte offsets a cut needs.
    """

    def __init__(self) -> None:
        self._line_start = bytearray()  # first bytes of the current line: enough for BOM + "data:"
        self._line_length = 0
        self._first_line = True
        self._after_cr = False
        self._block_has_data = False

    def feed(self, chunk: bytes) -> list[int]:
        ends: list[int] = []
        for index, byte in enumerate(chunk):
            if byte == 0x0A and self._after_cr:
                # The LF of a CRLF: the line already ended at the CR; keep the pair before a cut.
                self._after_cr = False
                if ends and ends[-1] == index:
                    ends[-1] = index + 1
                continue
            self._after_cr = byte == 0x0D
            if byte in (0x0A, 0x0D):
                self._end_line(ends, index + 1)
            else:
                self._line_length += 1
                if len(self._line_start) < len(_BOM) + 5:
                    self._line_start.append(byte)
        return ends

    def _end_line(self, ends: list[int], offset: int) -> None:
        start, length = bytes(self._line_start), self._line_length
        if self._first_line and start.startswith(_BOM):
            start, length = start[len(_BOM) :], length - len(_BOM)
        if length == 0:
            if self._block_has_data:
                ends.append(offset)
            self._block_has_data = False
        elif start.startswith(b"data:") or (length == 4 and start == b"data"):
            self._block_has_data = True
        self._line_start.clear()
        self._line_length = 0
        self._first_line = False


async def _buffer_all(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
    if body:
        yield bytes(body)


async def _gzip(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    # No Z_SYNC_FLUSH per chunk: a compressing proxy holds small events until zlib's window fills.
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: gzip container
    async for chunk in chunks:
        if compressed := compressor.compress(chunk):
            yield compressed
    yield compressor.flush()


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


async def _cut_after_events(chunks: AsyncIterator[bytes], n: int) -> AsyncIterator[bytes]:
    finder = _SseEventEnds()
    seen = 0
    async for chunk in chunks:
        ends = finder.feed(chunk)
        if seen + len(ends) >= n:
            yield chunk[: ends[n - seen - 1]]
            raise Cut(f"cut after {n} SSE events")
        seen += len(ends)
        yield chunk


async def _delay_each(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        await asyncio.sleep(seconds)
        yield chunk


def apply_fault(fault: Fault, chunks: AsyncIterator[bytes], headers: Headers) -> AsyncIterator[bytes]:
    if isinstance(fault, BufferUnlessAccelOff):
        accel_off = (header(headers, "x-accel-buffering") or "").strip().lower() == "no"
        return chunks if accel_off else _buffer_all(chunks)
    if isinstance(fault, Gzip) and header(headers, "content-encoding") is None:
        return _gzip(chunks)
    if isinstance(fault, CutAfterBytes):
        return _cut_after_bytes(chunks, fault.n)
    if isinstance(fault, CutAfterEvents):
        return _cut_after_events(chunks, fault.n)
    if isinstance(fault, Latency):
        return _delay_each(chunks, fault.seconds)
    return chunks
