"""A fault-injecting HTTP/1.1 reverse proxy on loopback, switchable per test.

It sits between the browser (or httpx) and the live backend and reproduces what real proxies do to
SSE streams: nginx's response buffering (unless `X-Accel-Buffering: no`), CDN compression, idle
timeouts, connections cut mid-stream, latency, and canned error answers during a deploy.

Written here on asyncio streams and h11 because no maintained Python library offers these fault
modes on a streaming HTTP proxy: toxiproxy works on raw TCP bytes (it knows neither HTTP framing nor
SSE events, and is a Go service), mitmproxy is a large interception tool whose streaming mode
bypasses its body hooks. HTTP framing is h11's (`_http.py`); what happens to a response is the
fault's own (`_faults.py`). One upstream connection per request keeps the code small: upstream gets
`Connection: close`, downstream every response ends with `Connection: close` too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

from harness.proxy._fault import Cut, Fault, UpstreamTimeout
from harness.proxy._faults import PassThrough
from harness.proxy._http import (
    ClientConnection,
    ClientLeft,
    Limits,
    Request,
    RequestRejected,
    UpstreamBroken,
    UpstreamConnection,
)
from harness.servers._loop import BackgroundLoop, BackgroundLoopError
from harness.waiting import Watched

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 5.0
_STOP_TIMEOUT_S = 5.0
_CANCEL_GRACE_S = 1.0


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
    """The requests so far, as an immutable tuple in a `Watched` value (thread-safe, waitable)."""

    def __init__(self) -> None:
        self._entries: Watched[tuple[ProxiedRequest, ...]] = Watched(())

    def add(self, entry: ProxiedRequest) -> int:
        return len(self._entries.update(lambda entries: (*entries, entry))) - 1

    def change(self, index: int, change: Callable[[ProxiedRequest], ProxiedRequest]) -> None:
        def apply(entries: tuple[ProxiedRequest, ...]) -> tuple[ProxiedRequest, ...]:
            return (*entries[:index], change(entries[index]), *entries[index + 1 :])

        self._entries.update(apply)

    def snapshot(self) -> list[ProxiedRequest]:
        return list(self._entries.get())

    def wait_until(self, predicate: Callable[[list[ProxiedRequest]], bool], timeout: float) -> list[ProxiedRequest]:
        entries = self._entries.wait_until(lambda entries: predicate(list(entries)), timeout)
        if entries is None:
            raise FaultProxyError(
                f"proxy requests did not reach the condition within {timeout} s: {self._entries.get()}"
            )
        return list(entries)


class FaultProxy:
    """Reverse proxy on 127.0.0.1 (port picked at start) forwarding to `upstream_url`.

    Runs its own asyncio loop in a daemon thread. `set_fault()` is thread-safe and applies to
    requests that start after the call; `requests` is a snapshot of what was proxied. `limits`
    bound what a client may send (head time, head and body size); malformed requests get a 400.
    """

    def __init__(self, upstream_url: str, *, limits: Limits | None = None) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"FaultProxy needs an http://host:port upstream URL, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self.limits = limits or Limits()
        self._upstream = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self._fault: Fault = PassThrough()
        self._uses_left: int | None = None
        self._log = _RequestLog()
        self._loop: BackgroundLoop | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()  # touched on the proxy's loop only
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
        if self._loop is not None:
            raise FaultProxyError(f"the fault proxy is already running at {self.url}")
        loop = BackgroundLoop(f"fault-proxy->{self.upstream_url}")
        try:
            loop.start(_START_TIMEOUT_S)
            self._server = loop.run(self._listen(), _START_TIMEOUT_S, what="listening")
        except (OSError, BackgroundLoopError) as exc:
            loop.stop(_STOP_TIMEOUT_S)
            raise FaultProxyError(f"the fault proxy for {self.upstream_url} did not start: {exc!r}") from exc
        self._port = self._server.sockets[0].getsockname()[1]
        self._loop = loop
        return self

    def stop(self) -> None:
        """Closes the listener and every open connection; bounded even with streams open."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run(self._close(), _STOP_TIMEOUT_S, what="closing the connections")
            loop.stop(_STOP_TIMEOUT_S)
        except BackgroundLoopError as exc:
            raise FaultProxyError(f"the fault proxy at port {self._port} did not stop: {exc}") from exc

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._on_connection, "127.0.0.1", 0)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=_CANCEL_GRACE_S)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve_connection(reader, writer)
        except asyncio.CancelledError:
            # Only stop() cancels these. Python 3.11's start_server logs a cancelled connection
            # task as an "Exception in callback" error, so end it normally instead.
            logger.debug("fault proxy: connection closed by stop()")
        finally:
            self._connections.discard(task)

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
        if not isinstance(fault, Fault):
            raise TypeError(f"set_fault() needs a harness.proxy fault (a Fault), got {fault!r}")
        with self._lock:
            self._fault, self._uses_left = fault, fault.uses

    def _take_fault(self, target: str) -> Fault:
        with self._lock:
            fault = self._fault
            if not fault.matches(target):
                return PassThrough()
            if self._uses_left is not None:
                if self._uses_left <= 0:
                    return PassThrough()
                self._uses_left -= 1
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
        client = ClientConnection(reader, writer, self.limits)
        try:
            await self._serve_one(client)
        except ClientLeft as exc:
            logger.debug("fault proxy: %s", exc)
        except RequestRejected as rejected:
            logger.debug("fault proxy: rejected a request: %s", rejected)
            await client.reject(rejected)
        except ConnectionError as exc:
            logger.debug("fault proxy: client connection ended: %r", exc)
        except Exception as exc:  # a proxy bug must not kill the loop; the test sees the closed connection
            logger.warning("fault proxy: unexpected error: %r", exc, exc_info=logger.isEnabledFor(logging.DEBUG))
        finally:
            writer.close()

    async def _serve_one(self, client: ClientConnection) -> None:
        request = await client.read_request()
        fault = self._take_fault(request.target)
        index = self._log.add(ProxiedRequest(request.method, request.target, None, fault.name))
        if (canned := fault.canned_answer(request.headers)) is not None:
            self._record(index, status=canned.head.status, outcome="canned")  # before the client can see it
            await client.send_head(canned.head)
            await client.send_body(canned.body)
            await client.finish()
            return
        forward = asyncio.create_task(self._forward(request, fault, client, index))
        client_gone = asyncio.create_task(client.wait_until_gone())
        try:
            await asyncio.wait({forward, client_gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            client_gone.cancel()
            forward.cancel()
            await asyncio.gather(forward, client_gone, return_exceptions=True)
        if forward.cancelled() or isinstance(forward.exception(), ConnectionError):
            outcome: Outcome = "client_gone"
        elif (error := forward.exception()) is not None:
            raise error
        else:
            outcome = forward.result()
        self._record(index, outcome=outcome)
        logger.debug("fault proxy: %s %s via %s: %s", request.method, request.target, fault.name, outcome)

    async def _forward(self, request: Request, fault: Fault, client: ClientConnection, index: int) -> Outcome:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError as exc:
            return await self._answer_error(client, index, 502, f"could not reach {self.upstream_url}: {exc}")
        upstream = UpstreamConnection(up_reader, up_writer)
        try:
            await upstream.send(request)
            head = await fault.receive_head(upstream.response_head())
            self._record(index, status=head.status)
            body = fault.transform_body(head, self._counted(upstream.body(), index))
            await client.send_head(fault.transform_head(head))
            async for piece in body:
                await client.send_body(piece)
                self._count(index, client=len(piece))
            await client.finish()
            return "complete"
        except UpstreamTimeout as timeout:
            return await self._answer_error(client, index, 504, str(timeout), outcome="cut")
        except Cut as cut:
            logger.debug("fault proxy: %s", cut)
            return "cut"
        except UpstreamBroken as exc:
            # Upstream broke its response: before the head that is nginx's 502, after it a cut.
            return await self._answer_error(client, index, 502, f"broken upstream response: {exc}")
        finally:
            upstream.close()

    async def _counted(self, chunks: AsyncIterator[bytes], index: int) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self._count(index, upstream=len(chunk))
            yield chunk

    async def _answer_error(
        self, client: ClientConnection, index: int, status: int, text: str, outcome: Outcome = "upstream_error"
    ) -> Outcome:
        logger.debug("fault proxy: answering %d: %s", status, text)
        if not client.head_sent:
            self._record(index, status=status)
            await client.reject(RequestRejected(status, text))
        return outcome

    def _record(self, index: int, **changes: object) -> None:
        self._log.change(index, lambda entry: replace(entry, **changes))  # type: ignore[arg-type]

    def _count(self, index: int, *, upstream: int = 0, client: int = 0) -> None:
        self._log.change(
            index,
            lambda entry: replace(
                entry, upstream_bytes=entry.upstream_bytes + upstream, client_bytes=entry.client_bytes + client
            ),
        )
