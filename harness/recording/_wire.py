"""Server-side wire recording: pure ASGI middleware that tees every HTTP response of any ASGI app.

`WireRecorder(app, log)` records stream responses frame by frame as they are sent (parsed with the
browser-faithful `SSEDecoder`, timestamped when the server accepted the chunk) and every other
response as an `HttpExchange`. It passes every message through unchanged and awaits nothing of its
own, so it cannot delay or reorder the stream. Pure ASGI on purpose: Starlette's
`BaseHTTPMiddleware` has broken streaming and disconnect propagation in the past.

`WireLog` is the thread-safe store shared by the server thread (writer) and the test thread
(reader); `mark()` / `since(mark)` give one test its slice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from harness.evidence import EVENT_STREAM, HttpExchange, StreamEnd, WireFrame, WireStream
from harness.sse import (
    SSEComment,
    SSEDataless,
    SSEDecoder,
    SSEEvent,
    SSEObservation,
    SSERetry,
    SSEUnterminated,
)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

_EXCERPT_BYTES = 1000


def to_wire_frames(observations: list[SSEObservation], t: float) -> list[WireFrame]:
    """Decoder observations as transcript frames, all stamped `t`."""
    frames = []
    for o in observations:
        if isinstance(o, SSEEvent):
            frames.append(WireFrame(t=t, kind="event", event=o.type, data=o.data, id=o.last_event_id))
        elif isinstance(o, SSEComment):
            frames.append(WireFrame(t=t, kind="comment", data=o.text))
        elif isinstance(o, SSERetry):
            frames.append(WireFrame(t=t, kind="retry", retry_ms=o.milliseconds))
        elif isinstance(o, SSEDataless):
            frames.append(WireFrame(t=t, kind="dataless", event=o.type, id=o.last_event_id))
        elif isinstance(o, SSEUnterminated):
            frames.append(WireFrame(t=t, kind="unterminated", event=o.type, data=o.text))
    return frames


class WireLog:
    """Every stream and exchange recorded so far, numbered in request-arrival order.

    Readers get snapshots (copies), so a test can inspect a stream while the server appends to it.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_id = 1
        self._streams: dict[int, WireStream] = {}
        self._exchanges: dict[int, HttpExchange] = {}
        self._running: dict[int, _ResponseRecording] = {}  # requests whose app has not returned yet

    def running_streams(self, mark: int = 0) -> int:
        """Stream responses (since `mark`) whose app is still running: the gate's own measure of live
        streams (a client gone does not end one; the app noticing it and returning does)."""
        with self._changed:
            return sum(1 for key, recording in self._running.items() if key >= mark and recording.is_stream)

    def mark(self) -> int:
        """A position: `since(mark)` returns only what arrived after this call."""
        with self._changed:
            return self._next_id

    def since(self, mark: int = 0) -> tuple[list[WireStream], list[HttpExchange]]:
        with self._changed:
            return self._snapshot(mark)

    def wait_for(
        self,
        predicate: Callable[[list[WireStream], list[HttpExchange]], bool],
        timeout: float,
        mark: int = 0,
    ) -> bool:
        """Block until `predicate(streams, exchanges)` (of the slice since `mark`) holds; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(*self._snapshot(mark)), timeout=timeout)

    def forget_before(self, mark: int) -> None:
        """Drop finished records older than `mark` (bounds memory over a long session)."""
        with self._changed:
            for key in [k for k, s in self._streams.items() if k < mark and s.ended_by is not None]:
                del self._streams[key]
            for key in [k for k, e in self._exchanges.items() if k < mark and e.t_end is not None]:
                del self._exchanges[key]

    def _snapshot(self, mark: int) -> tuple[list[WireStream], list[HttpExchange]]:
        streams = [
            replace(s, frames=list(s.frames), response_headers=dict(s.response_headers))
            for k, s in sorted(self._streams.items())
            if k >= mark
        ]
        exchanges = [
            replace(e, response_headers=dict(e.response_headers))
            for k, e in sorted(self._exchanges.items())
            if k >= mark
        ]
        return streams, exchanges

    # -- used by the recorder, on the server's thread --

    def _reserve_id(self) -> int:
        with self._changed:
            record_id = self._next_id
            self._next_id += 1
            return record_id

    @contextmanager
    def _changing(self) -> Iterator[None]:
        with self._changed:
            yield
            self._changed.notify_all()


def _header_map(raw: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw or ():
        key = bytes(name).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


class _ResponseRecording:
    """The recording of one request/response cycle. Every mutation goes through the log's lock."""

    def __init__(self, log: WireLog, scope: Scope) -> None:
        self._log = log
        self._id = log._reserve_id()
        self._t0 = time.time()
        self._method = str(scope.get("method", ""))
        self._path = str(scope.get("path", ""))
        self._query = bytes(scope.get("query_string", b"")).decode("latin-1")
        self._request_headers = _header_map(scope.get("headers"))
        self._stream: WireStream | None = None
        self._exchange: HttpExchange | None = None
        self._decoder: SSEDecoder | None = None
        self._excerpt = b""
        self._finished = False
        # EventSource always sends this Accept: record such a request as a stream even when the
        # answer is JSON or HTML, because "the stream was answered with the wrong type" is a verdict.
        if EVENT_STREAM in self._request_headers.get("accept", "").lower():
            with log._changing():
                self._open_stream()

    @property
    def is_stream(self) -> bool:
        return self._stream is not None

    def _open_stream(self) -> None:
        """Called with the log's lock held (it is re-entrant: `threading.Condition` wraps an RLock)."""
        self._stream = WireStream(
            stream_id=self._id,
            method=self._method,
            path=self._path,
            query=self._query,
            opened_at=self._t0,
            origin=self._request_headers.get("origin"),
            host=self._request_headers.get("host"),
            accept=self._request_headers.get("accept", ""),
            last_event_id_header=self._request_headers.get("last-event-id"),
        )
        self._log._streams[self._id] = self._stream

    def response_started(self, message: Message, t: float) -> None:
        headers = _header_map(message.get("headers"))
        content_type = headers.get("content-type", "")
        is_event_stream = content_type.split(";")[0].strip().lower() == EVENT_STREAM
        with self._log._changing():
            if self._stream is None and is_event_stream:
                self._open_stream()
            if self._stream is not None:
                self._stream.status = int(message["status"])
                self._stream.response_headers = headers
                self._stream.response_started_at = t
                if is_event_stream:
                    self._decoder = SSEDecoder()
            else:
                self._exchange = HttpExchange(
                    exchange_id=self._id,
                    method=self._method,
                    path=self._path,
                    query=self._query,
                    t=self._t0,
                    status=int(message["status"]),
                    content_type=content_type,
                    origin=self._request_headers.get("origin"),
                    host=self._request_headers.get("host"),
                    response_headers=headers,
                )
                self._log._exchanges[self._id] = self._exchange

    def body_sent(self, message: Message, t: float) -> None:
        body = bytes(message.get("body", b""))
        more_body = bool(message.get("more_body", False))
        with self._log._changing():
            if len(self._excerpt) < _EXCERPT_BYTES:
                self._excerpt += body[: _EXCERPT_BYTES - len(self._excerpt)]
            if self._stream is not None:
                self._stream.bytes_sent += len(body)
                if self._decoder is not None:
                    self._stream.frames.extend(to_wire_frames(self._decoder.feed(body), t))
                else:
                    self._stream.body_excerpt = self._excerpt.decode("utf-8", errors="replace")
                if not more_body:
                    self._end_stream_locked("server", t)
            elif self._exchange is not None:
                self._exchange.body_excerpt = self._excerpt.decode("utf-8", errors="replace")
                if not more_body:
                    self._exchange.t_end = t
                    self._finished = True

    def client_disconnected(self, t: float) -> None:
        with self._log._changing():
            if self._finished:
                return
            if self._stream is not None:
                self._stream.ended_by = "client_disconnect"
                self._stream.closed_at = t
            elif self._exchange is not None:
                self._exchange.t_end = t
            self._finished = True

    def app_ended(self, error: BaseException | None, t: float) -> None:
        """The app returned or raised: whatever is still open did not end by the server's choice."""
        with self._log._changing():
            if self._finished:
                return
            reason = f"{type(error).__name__}: {error}" if error is not None else "app returned before the body ended"
            if self._stream is not None:
                self._stream.error = reason
                self._end_stream_locked("error", t)
            elif self._exchange is not None:
                self._exchange.t_end = t
                self._finished = True
            else:
                # Nothing was sent at all: keep a trace so "the request failed" is visible.
                self._log._exchanges[self._id] = HttpExchange(
                    exchange_id=self._id,
                    method=self._method,
                    path=self._path,
                    query=self._query,
                    t=self._t0,
                    t_end=t,
                    origin=self._request_headers.get("origin"),
                    host=self._request_headers.get("host"),
                    body_excerpt=f"(no response: {reason})",
                )
                self._finished = True

    def _end_stream_locked(self, ended_by: StreamEnd, t: float) -> None:
        assert self._stream is not None
        if self._decoder is not None:
            self._stream.frames.extend(to_wire_frames(self._decoder.close(), t))
        self._stream.ended_by = ended_by
        self._stream.closed_at = t
        self._finished = True


class WireRecorder:
    """ASGI middleware: `WireRecorder(app, log)` serves `app` unchanged and records its HTTP traffic in `log`."""

    def __init__(self, app: Any, log: WireLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        recording = _ResponseRecording(self.log, scope)
        with self.log._changing():
            self.log._running[recording._id] = recording

        async def recording_receive() -> Message:
            message: Message = await receive()
            if message.get("type") == "http.disconnect":
                recording.client_disconnected(time.time())
            return message

        async def recording_send(message: Message) -> None:
            # Stamped as the app hands the bytes to the server, recorded once the server took them:
            # the page cannot see a frame before this time. A stamp taken after `send` returned could
            # follow the page's own (measured: 15 ms after it, 2-core machine under `-n 4`, the event
            # loop's thread waiting for a CPU while the browser already dispatched the event).
            t = time.time()
            try:
                await send(message)
            except OSError:
                # ASGI 2.4 servers raise OSError when the client has gone.
                recording.client_disconnected(time.time())
                raise
            kind = message.get("type")
            if kind == "http.response.start":
                recording.response_started(message, t)
            elif kind == "http.response.body":
                recording.body_sent(message, t)

        try:
            await self.app(scope, recording_receive, recording_send)
        except BaseException as error:  # CancelledError too: a server shutdown cancels open streams
            recording.app_ended(error, time.time())
            raise
        else:
            recording.app_ended(None, time.time())
        finally:
            with self.log._changing():
                self.log._running.pop(recording._id, None)
