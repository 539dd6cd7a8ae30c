"""HTTP/1.1 message reading and writing for the fault proxy (`harness.proxy`).

Only what a loopback proxy needs: heads, Content-Length / chunked / close-delimited bodies, and an
optional idle timeout on every read from the upstream side.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import AsyncIterator, Awaitable, Collection
from dataclasses import dataclass
from typing import Literal

Headers = list[tuple[str, str]]
Framing = Literal["none", "length", "chunked", "close"]

_READ_SIZE = 65536


class BadMessage(Exception):
    """A request or response that does not parse as HTTP/1.1."""


class IdleCut(Exception):
    """No byte came from upstream within the idle timeout."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # origin-form: path and query, as the client sent it
    headers: Headers
    body: bytes
    had_body_framing: bool  # Content-Length or chunked was present: upstream gets a Content-Length


def header(headers: Headers, name: str) -> str | None:
    """The first value of header `name` (case-insensitive), or None."""
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


def reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _parse_head(raw: bytes) -> tuple[str, Headers]:
    lines = raw.decode("latin-1").split("\r\n")
    headers: Headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise BadMessage(f"header line without a name and colon: {line!r}")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


class HttpReader:
    """Reads one HTTP message from a stream; with `idle_timeout`, every read waiting longer than
    that raises IdleCut (the timer restarts with each byte, as nginx's proxy_read_timeout does)."""

    def __init__(self, reader: asyncio.StreamReader, idle_timeout: float | None = None) -> None:
        self._reader = reader
        self._idle_timeout = idle_timeout

    async def _timed(self, read: Awaitable[bytes]) -> bytes:
        if self._idle_timeout is None:
            return await read
        try:
            return await asyncio.wait_for(read, self._idle_timeout)
        except TimeoutError:
            raise IdleCut(f"no byte from upstream for {self._idle_timeout} s") from None

    async def head(self) -> tuple[str, Headers]:
        return _parse_head(await self._timed(self._reader.readuntil(b"\r\n\r\n")))

    async def response_head(self) -> tuple[int, str, Headers]:
        """The final response head; interim 1xx answers (100 Continue) are skipped."""
        while True:
            start, headers = await self.head()
            version, _, rest = start.partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise BadMessage(f"not an HTTP/1.x status line: {start!r}")
            status = int(code)
            if not 100 <= status < 200 or status == 101:
                return status, reason or reason_phrase(status), headers

    @staticmethod
    def body_framing(method: str, status: int, headers: Headers) -> Framing:
        if method == "HEAD" or status < 200 or status in (204, 304):
            return "none"
        if "chunked" in (header(headers, "transfer-encoding") or "").lower():
            return "chunked"
        if header(headers, "content-length") is not None:
            return "length"
        return "close"

    async def body(self, framing: Framing, headers: Headers) -> AsyncIterator[bytes]:
        """Yields the body's payload bytes as they arrive, without transfer framing."""
        if framing == "length":
            length = header(headers, "content-length") or ""
            if not length.strip().isdigit():
                raise BadMessage(f"bad Content-Length: {length!r}")
            async for data in self._exactly(int(length)):
                yield data
        elif framing == "chunked":
            while size := await self._chunk_size():
                async for data in self._exactly(size):
                    yield data
                if await self._timed(self._reader.readuntil(b"\r\n")) != b"\r\n":
                    raise BadMessage("chunk not followed by CRLF")
            while await self._timed(self._reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailer fields: dropped, browsers ignore them
        elif framing == "close":
            while data := await self._timed(self._reader.read(_READ_SIZE)):
                yield data

    async def _chunk_size(self) -> int:
        line = await self._timed(self._reader.readuntil(b"\r\n"))
        size_text = line.split(b";", 1)[0].strip()
        try:
            return int(size_text, 16)
        except ValueError:
            raise BadMessage(f"bad chunk size line: {line!r}") from None

    async def _exactly(self, size: int) -> AsyncIterator[bytes]:
        # Piecewise rather than readexactly(): forward what arrived, and let the idle timer see bytes.
        remaining = size
        while remaining:
            data = await self._timed(self._reader.read(min(remaining, _READ_SIZE)))
            if not data:
                raise BadMessage(f"connection closed with {remaining} body bytes missing")
            remaining -= len(data)
            yield data


async def read_request(reader: asyncio.StreamReader) -> Request:
    """Reads a request with its whole body (bodies here are small JSON posts)."""
    message = HttpReader(reader)
    start, headers = await message.head()
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadMessage(f"not an HTTP/1.x request line: {start!r}")
    method, target, _ = parts
    framing: Framing = "none"
    if "chunked" in (header(headers, "transfer-encoding") or "").lower():
        framing = "chunked"
    elif header(headers, "content-length") is not None:
        framing = "length"
    body = b"".join([data async for data in message.body(framing, headers)])
    return Request(method, target, headers, body, had_body_framing=framing != "none")


def encode_request(request: Request, hop_by_hop: Collection[str]) -> bytes:
    """The request for upstream: same line and headers, body re-framed by Content-Length, and
    `Connection: close` so the upstream response ends with its connection."""
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    lines += [
        f"{name}: {value}"
        for name, value in request.headers
        if name.lower() not in hop_by_hop and name.lower() != "content-length"
    ]
    if request.had_body_framing:
        lines.append(f"Content-Length: {len(request.body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def simple_response(
    status: int,
    text: str,
    *,
    content_type: str = "text/plain; charset=utf-8",
    extra_headers: Headers | None = None,
) -> bytes:
    """A complete response written by the proxy itself (canned answers, 502, 504)."""
    bodiless = status < 200 or status in (204, 304)
    body = b"" if bodiless else text.encode("utf-8")
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    if not bodiless:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in extra_headers or []]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
