"""A fault-injecting HTTP/1.1 reverse proxy on loopback, switchable per test.

It sits between the browser (or httpx) and the live backend and reproduces what real proxies do to
SSE streams: nginx's response buffering (unless `X-Accel-Buffering: no`), CDN compression, idle
timeouts, connections cut mid-stream, latency, and canned error answers during a deploy.

Hand-written on asyncio streams because no maintained Python library offers these fault modes on a
streaming HTTP proxy: toxiproxy works on raw TCP bytes (it knows neither HTTP framing nor SSE events,
and is a Go service), mitmproxy is a large interception tool whose streaming mode bypasses its body
hooks. One upstream connection per request keeps the code small: upstream gets `Connection: close`,
downstream every response ends with `Connection: close` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

from harness.proxy._faults import (
    FAULT_TYPES,
    BufferUnlessAccelOff,
    CannedStatus,
    Cut,
    CutAfterBytes,
    CutAfterEvents,
    Fault,
    Gzip,
    IdleTimeout,
    Latency,
    PassThrough,
    apply_fault,
)
from harness.proxy._http import (
    BadMessage,
    Headers,
    HttpReader,
    IdleCut,
    Request,
    encode_request,
    header,
    read_request,
    simple_response,
)

__all__ = [
    "BufferUnlessAccelOff",
    "CannedStatus",
    "CutAfterBytes",
    "CutAfterEvents",
    "Fault",
    "FaultProxy",
    "FaultProxyError",
    "Gzip",
    "IdleTimeout",
    "Latency",
    "PassThrough",
    "ProxiedRequest",
]

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 5.0
_STOP_TIMEOUT_S = 5.0
_CANCEL_GRACE_S = 1.0
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)


class FaultProxyError(RuntimeError):
    """The proxy could not start or stop, or a wait on its request log timed out."""


Outcome = Literal["open", "complete", "cut", "client_gone", "upstream_error", "canned"]


@dataclass(frozen=True)
class ProxiedRequest:
    """One request as the proxy handled it; `status` is None until upstream answered, `outcome`
    is "open" until the proxy is done with the connection (see `FaultProxy.wait_finished`)."""

    method: str
    path: str
    status: int | None
    fault: str
    upstream_bytes: int = 0  # body bytes received from upstream
    client_bytes: int = 0  # body bytes written to the client (after the fault, before chunk framing)
    outcome: Outcome = "open"


class _RequestLog:
    """Thread-safe record of requests; waiters are woken on every change."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._entries: list[ProxiedRequest] = []

    def add(self, entry: ProxiedRequest) -> int:
        with self._changed:
            self._entries.append(entry)
            self._changed.notify_all()
            return len(self._entries) - 1

    def update(self, index: int, **changes: object) -> None:
        with self._changed:
            self._entries[index] = replace(self._entries[index], **changes)  # type: ignore[arg-type]
            self._changed.notify_all()

    def add_bytes(self, index: int, *, upstream: int = 0, client: int = 0) -> None:
        with self._changed:
            entry = self._entries[index]
            self._entries[index] = replace(
                entry, upstream_bytes=entry.upstream_bytes + upstream, client_bytes=entry.client_bytes + client
            )
            self._changed.notify_all()

    def snapshot(self) -> list[ProxiedRequest]:
        with self._changed:
            return list(self._entries)

    def wait_until(self, predicate: Callable[[list[ProxiedRequest]], bool], timeout: float) -> list[ProxiedRequest]:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(list(self._entries)), timeout):
                raise FaultProxyError(f"proxy requests did not reach the condition within {timeout} s: {self._entries}")
            return list(self._entries)


def _client_head(status: int, reason: str, headers: Headers, *, chunked: bool, gzipped: bool) -> bytes:
    kept = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    if gzipped:
        kept = [(name, value) for name, value in kept if name.lower() != "content-length"]
        kept.append(("Content-Encoding", "gzip"))
    if chunked:
        kept.append(("Transfer-Encoding", "chunked"))
    kept.append(("Connection", "close"))
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in kept)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _ClientGone(Exception):
    """Writing to the client failed: it hung up (kept apart from upstream connection errors)."""


class _ClientWriter:
    """Writes the response to the client, framing the body as chunked when asked."""

    def __init__(self, writer: asyncio.StreamWriter, on_body_bytes: Callable[[int], None]) -> None:
        self._writer = writer
        self._on_body_bytes = on_body_bytes
        self._chunked = False
        self.head_sent = False

    async def head(self, data: bytes, *, chunked: bool) -> None:
        self._chunked = chunked
        self.head_sent = True
        await self._send(data)

    async def body(self, data: bytes) -> None:
        if not data:
            return  # an empty chunk would end a chunked body
        await self._send(b"%x\r\n%b\r\n" % (len(data), data) if self._chunked else data)
        self._on_body_bytes(len(data))

    async def finish(self) -> None:
        await self._send(b"0\r\n\r\n" if self._chunked else b"")

    async def _send(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except ConnectionError as exc:
            raise _ClientGone(repr(exc)) from exc


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Returns when the client hung up, so a stream left by its client is closed upstream too."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass


# --- The proxy ---------------------------------------------------------------------------------


class FaultProxy:
    """Reverse proxy on 127.0.0.1 (port picked at start) forwarding to `upstream_url`.

    Runs its own asyncio loop in a daemon thread. `set_fault()` is thread-safe and applies to
    requests that start after the call; `requests` is a snapshot of what was proxied.
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"FaultProxy needs an http://host:port upstream URL, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self._upstream = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self._fault: Fault = PassThrough()
        self._canned_left = 0
        self._log = _RequestLog()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._port: int | None = None

    # Lifecycle

    @property
    def port(self) -> int:
        if self._port is None:
            raise FaultProxyError("the fault proxy has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        if self._thread is not None:
            raise FaultProxyError(f"the fault proxy is already running at {self.url}")
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(ready, failure), name=f"fault-proxy->{self.upstream_url}", daemon=True
        )
        thread.start()
        if not ready.wait(_START_TIMEOUT_S) or failure:
            self._stop_loop(thread)
            reason = repr(failure[0]) if failure else f"not listening after {_START_TIMEOUT_S} s"
            raise FaultProxyError(f"the fault proxy for {self.upstream_url} did not start: {reason}")
        self._thread = thread
        return self

    def stop(self) -> None:
        """Closes the listener and every open connection; bounded even with streams open."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop_loop(thread)

    def _stop_loop(self, thread: threading.Thread) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(stopping.set)
        thread.join(_STOP_TIMEOUT_S)
        if thread.is_alive():
            raise FaultProxyError(f"the fault proxy at port {self._port} did not stop within {_STOP_TIMEOUT_S} s")

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            asyncio.run(self._main(ready))
        except Exception as exc:  # reported by start(); after start-up only listener errors land here
            failure.append(exc)
            ready.set()
            logger.debug("fault proxy loop ended with %r", exc)

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        connections: set[asyncio.Task[None]] = set()

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                await self._serve_connection(reader, writer)
            except asyncio.CancelledError:
                # Only stop() cancels these. Python 3.11's start_server logs a cancelled connection
                # task as an "Exception in callback" error, so end it normally instead.
                logger.debug("fault proxy: connection closed by stop()")
            finally:
                connections.discard(task)

        server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
        self._port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(connections):
                task.cancel()
            if connections:
                await asyncio.wait(connections, timeout=_CANCEL_GRACE_S)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<FaultProxy {where} -> {self.upstream_url} fault={self.fault!r}>"

    # Faults and observation

    @property
    def fault(self) -> Fault:
        with self._lock:
            return self._fault

    def set_fault(self, fault: Fault) -> None:
        if not isinstance(fault, FAULT_TYPES):
            raise TypeError(f"set_fault() needs one of {[t.__name__ for t in FAULT_TYPES]}, got {fault!r}")
        with self._lock:
            self._fault = fault
            self._canned_left = fault.times if isinstance(fault, CannedStatus) else 0

    def _take_fault(self, path: str) -> Fault:
        with self._lock:
            fault = self._fault
            if fault.path_contains is not None and fault.path_contains not in path:
                return PassThrough()
            if isinstance(fault, CannedStatus):
                if self._canned_left <= 0:
                    return PassThrough()
                self._canned_left -= 1
            return fault

    @property
    def requests(self) -> list[ProxiedRequest]:
        return self._log.snapshot()

    def count(self, path_contains: str = "") -> int:
        return sum(path_contains in entry.path for entry in self._log.snapshot())

    def wait_for_requests(
        self, predicate: Callable[[list[ProxiedRequest]], bool], timeout: float = 5.0
    ) -> list[ProxiedRequest]:
        """Blocks until `predicate(requests)` holds; raises FaultProxyError after `timeout`."""
        return self._log.wait_until(predicate, timeout)

    def wait_finished(self, path_contains: str = "", timeout: float = 5.0) -> ProxiedRequest:
        """The latest request whose path contains `path_contains`, once the proxy is done with it.

        The log is updated just after the wire: a client can see the end of a response a moment
        before its outcome is recorded, so read outcomes through this wait.
        """

        def latest_is_finished(requests: list[ProxiedRequest]) -> bool:
            matching = [entry for entry in requests if path_contains in entry.path]
            return bool(matching) and matching[-1].outcome != "open"

        requests = self._log.wait_until(latest_is_finished, timeout)
        return [entry for entry in requests if path_contains in entry.path][-1]

    # Serving

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            logger.debug("fault proxy: client connection ended: %r", exc)
        except BadMessage as exc:
            logger.debug("fault proxy: bad request: %s", exc)
            writer.write(simple_response(400, f"FaultProxy could not parse the request: {exc}"))
        except Exception as exc:  # a proxy bug must not kill the loop; the test sees the closed connection
            logger.warning("fault proxy: unexpected error: %r", exc, exc_info=logger.isEnabledFor(logging.DEBUG))
        finally:
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        fault = self._take_fault(request.target)
        index = self._log.add(ProxiedRequest(request.method, request.target, None, type(fault).__name__))
        if isinstance(fault, CannedStatus):
            self._log.update(index, status=fault.status, outcome="canned")  # before the client can see it
            writer.write(_canned_response(fault, request))
            await writer.drain()
            return
        client = _ClientWriter(writer, lambda n: self._log.add_bytes(index, client=n))
        forward = asyncio.create_task(self._forward(request, fault, client, index))
        client_gone = asyncio.create_task(_until_eof(reader))
        try:
            await asyncio.wait({forward, client_gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            client_gone.cancel()
            forward.cancel()
            await asyncio.gather(forward, client_gone, return_exceptions=True)
        if forward.cancelled() or isinstance(forward.exception(), _ClientGone):
            outcome: Outcome = "client_gone"
        elif (error := forward.exception()) is not None:
            raise error
        else:
            outcome = forward.result()
        self._log.update(index, outcome=outcome)
        logger.debug("fault proxy: %s %s via %s: %s", request.method, request.target, type(fault).__name__, outcome)

    async def _forward(self, request: Request, fault: Fault, client: _ClientWriter, index: int) -> Outcome:
        host, port = self._upstream
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            await self._answer_error(client, index, 502, f"FaultProxy could not reach {self.upstream_url}: {exc}")
            return "upstream_error"
        try:
            up_writer.write(encode_request(request, _HOP_BY_HOP))
            await up_writer.drain()
            upstream = HttpReader(up_reader, fault.seconds if isinstance(fault, IdleTimeout) else None)
            status, reason, headers = await upstream.response_head()
            self._log.update(index, status=status)
            framing = upstream.body_framing(request.method, status, headers)
            gzipped = isinstance(fault, Gzip) and framing != "none" and header(headers, "content-encoding") is None
            chunks = self._counted(upstream.body(framing, headers), index)
            body = apply_fault(fault, chunks, headers)
            if isinstance(fault, Latency):
                await asyncio.sleep(fault.seconds)
            chunked = gzipped or framing == "chunked"
            await client.head(_client_head(status, reason, headers, chunked=chunked, gzipped=gzipped), chunked=chunked)
            async for piece in body:
                await client.body(piece)
            await client.finish()
            return "complete"
        except IdleCut as cut:
            if not client.head_sent:
                await self._answer_error(client, index, 504, f"FaultProxy: {cut}")
            logger.debug("fault proxy: %s", cut)
            return "cut"
        except Cut as cut:
            logger.debug("fault proxy: %s", cut)
            return "cut"
        except (BadMessage, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError) as exc:
            # Upstream broke its response: before the head that is nginx's 502, after it a cut.
            if not client.head_sent:
                await self._answer_error(client, index, 502, f"FaultProxy got a broken upstream response: {exc!r}")
            logger.debug("fault proxy: upstream error: %r", exc)
            return "upstream_error"
        finally:
            up_writer.close()

    async def _counted(self, chunks: AsyncIterator[bytes], index: int) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self._log.add_bytes(index, upstream=len(chunk))
            yield chunk

    async def _answer_error(self, client: _ClientWriter, index: int, status: int, text: str) -> None:
        logger.debug("fault proxy: answering %d: %s", status, text)
        self._log.update(index, status=status)
        await client.head(simple_response(status, text), chunked=False)


def _canned_response(fault: CannedStatus, request: Request) -> bytes:
    extra: Headers = []
    origin = header(request.headers, "origin")
    if fault.echo_origin and origin is not None:
        extra = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ]
    return simple_response(fault.status, fault.body, content_type=fault.content_type, extra_headers=extra)
