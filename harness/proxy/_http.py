"""HTTP/1.1 framing for the fault proxy, by h11 (uvicorn's own parser) on both sides.

h11 parses and frames; this module adds what a server around it must decide: how long a client may
take to send its head (`head_timeout`), how big a head and a body may be, and what a client is told
when its request is malformed. Malformed requests are answered as uvicorn answers them: 400, also
for a head over the size limit (h11 hints 431 there; uvicorn sends 400, and so does the proxy).
Beyond uvicorn: every head is bounded (not only one still incomplete), the whole request must arrive
within `head_timeout` (else 408 and close, as nginx's client_header_timeout), and a body over
`max_body_bytes` is refused with 413.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import h11

from harness.proxy._fault import Headers, ResponseHead, has_body, header, reason_phrase, text_headers

_READ_SIZE = 65536

# Connection-level headers a proxy must not forward (RFC 9110 section 7.6.1); framing is h11's job.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)


@dataclass(frozen=True)
class Limits:
    """What the proxy accepts from a client. The head limit is h11's (and so uvicorn's) default."""

    head_timeout: float = 10.0  # the whole request (head and body) must arrive within this
    max_head_bytes: int = 16 * 1024  # h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, which uvicorn keeps
    max_body_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.head_timeout <= 0 or self.max_head_bytes <= 0 or self.max_body_bytes < 0:
            raise ValueError(f"FaultProxy limits must be positive, got {self!r}")


class RequestRejected(Exception):
    """The client's request is answered with `status` (and `reason` in the body) by the proxy itself."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class ClientLeft(Exception):
    """The client closed its connection before its request was complete (or before sending one)."""


class UpstreamBroken(Exception):
    """Upstream's response does not parse as HTTP/1.1, or its connection failed mid-message."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # origin-form: path and query, as the client sent it
    headers: Headers
    body: bytes


def _forwardable(headers: Headers) -> Headers:
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]


class ClientConnection:
    """The client side: one request read under the limits, one response written; h11 SERVER role."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limits: Limits) -> None:
        self._reader = reader
        self._writer = writer
        self._limits = limits
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head_bytes)
        # h11 bounds an incomplete head; the complete one is checked in _read_request
        self.eof_before_response = False  # the client half-closed (or left) after its request
        self._received = 0  # bytes handed to h11 so far
        self.head_sent = False

    async def _next_event(self) -> object:  # an h11 event, or h11.PAUSED
        while (event := self._h11.next_event()) is h11.NEED_DATA:
            data = await self._reader.read(_READ_SIZE)
            if not data:
                self.eof_before_response = True
            self._received += len(data)
            self._h11.receive_data(data)
        return event

    async def read_request(self) -> Request:
        """The request with its whole body (bodies here are small JSON posts), or RequestRejected / ClientLeft."""
        try:
            async with asyncio.timeout(self._limits.head_timeout):
                return await self._read_request()
        except TimeoutError:
            raise RequestRejected(408, f"request not received within {self._limits.head_timeout} s") from None
        except h11.RemoteProtocolError as exc:
            # 431 is h11's hint for "Receive buffer too long"; uvicorn answers 400 there, so does the proxy.
            reason = f"head over {self._limits.max_head_bytes} bytes" if exc.error_status_hint == 431 else str(exc)
            raise RequestRejected(400, f"invalid HTTP request received: {reason}") from None

    async def _read_request(self) -> Request:
        event = await self._next_event()
        if isinstance(event, h11.ConnectionClosed):
            raise ClientLeft("the client closed the connection without sending a request")
        assert isinstance(event, h11.Request), event  # h11's SERVER role yields a Request first
        # h11 bounds only a head still incomplete after a read; one that arrived whole in a single
        # read passes at any size (uvicorn accepts a 64 KiB head that way). Bound every head.
        head_size = self._received - len(self._h11.trailing_data[0])
        if head_size > self._limits.max_head_bytes:
            raise RequestRejected(
                400, f"invalid HTTP request received: head over {self._limits.max_head_bytes} bytes ({head_size})"
            )
        method, target = event.method.decode("ascii"), event.target.decode("latin-1")
        request_headers = text_headers(event.headers)
        body = bytearray()
        while not isinstance(event := await self._next_event(), h11.EndOfMessage):
            if isinstance(event, h11.ConnectionClosed):
                raise ClientLeft(f"the client closed the connection after {len(body)} request body bytes")
            assert isinstance(event, h11.Data), event
            body += event.data
            if len(body) > self._limits.max_body_bytes:
                raise RequestRejected(413, f"request body over {self._limits.max_body_bytes} bytes")
        return Request(method, target, request_headers, bytes(body))

    async def send_head(self, head: ResponseHead) -> None:
        headers = [*_forwardable(head.headers), ("Connection", "close")]
        self.head_sent = True
        await self._send(h11.Response(status_code=head.status, headers=headers, reason=reason_phrase(head.status)))

    async def send_body(self, data: bytes) -> None:
        if data:  # h11 frames each Data as a chunk; an empty one would say nothing
            await self._send(h11.Data(data=data))

    async def finish(self) -> None:
        await self._send(h11.EndOfMessage())

    async def reject(self, rejected: RequestRejected) -> None:
        """The proxy's own answer to a request it will not forward; bounded, never raises."""
        body = f"FaultProxy: {rejected.reason}".encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        try:
            await self.send_head(ResponseHead(rejected.status, headers))
            await self.send_body(body)
            await self.finish()
        except (ConnectionError, h11.LocalProtocolError):
            pass  # the client is gone, or a response was already under way: closing is all that is left

    async def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def wait_until_gone(self) -> None:
        """Returns when the client hung up after the response head went out.

        An end of input before that is taken as a half-close (the client said all it had to say and
        waits for the answer, as `curl` and `nc -N` do), so the answer still goes out; TCP cannot tell
        it from a full close, and a client that really left is then found by the next failed write.
        A browser leaving mid-stream (an EventSource closed) is seen at once.
        """
        if not self.eof_before_response:
            try:
                while await self._reader.read(_READ_SIZE):
                    pass  # pipelined bytes after a `Connection: close` answer: ignored
            except ConnectionError:
                return
            if self.head_sent:
                return
        await asyncio.Event().wait()  # only a failed write can tell now; the caller cancels this


class UpstreamConnection:
    """The upstream side: one request sent, its response read; h11 CLIENT role, `Connection: close`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT)
        self._method = "GET"

    async def send(self, request: Request) -> None:
        """The request as the client sent it, minus hop-by-hop headers, its body re-framed by h11."""
        self._method = request.method
        headers = [(name, value) for name, value in _forwardable(request.headers) if name.lower() != "content-length"]
        if request.body or header(request.headers, "content-length") or header(request.headers, "transfer-encoding"):
            headers.append(("Content-Length", str(len(request.body))))
        headers.append(("Connection", "close"))
        events: list[h11.Event] = [h11.Request(method=request.method, target=request.target, headers=headers)]
        if request.body:
            events.append(h11.Data(data=request.body))
        events.append(h11.EndOfMessage())
        try:
            for event in events:
                self._writer.write(self._h11.send(event) or b"")
            await self._writer.drain()
        except ConnectionError as exc:  # kept apart from the client's connection errors
            raise UpstreamBroken(f"sending the request failed: {exc!r}") from exc

    async def _next_event(self) -> object:  # an h11 event, or h11.PAUSED
        try:
            while (event := self._h11.next_event()) is h11.NEED_DATA:
                self._h11.receive_data(await self._reader.read(_READ_SIZE))
        except (h11.RemoteProtocolError, ConnectionError) as exc:
            raise UpstreamBroken(f"{type(exc).__name__}: {exc}") from exc
        return event

    async def response_head(self) -> ResponseHead:
        """The final response head; interim 1xx answers (100 Continue) are skipped."""
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                status = event.status_code
                return ResponseHead(status, text_headers(event.headers), has_body=has_body(self._method, status))
            if not isinstance(event, h11.InformationalResponse):
                raise UpstreamBroken(f"upstream ended before its response head: {event!r}")

    async def body(self) -> AsyncIterator[bytes]:
        """The body's payload bytes as they arrive, without transfer framing (trailers are dropped)."""
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise UpstreamBroken(f"upstream ended its body early: {event!r}")

    def close(self) -> None:
        self._writer.close()
