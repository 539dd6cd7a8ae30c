"""A fault as pure ASGI middleware: the proxy's fault objects applied inside a backend.

A backend mutant that breaks the transport (a buffering or compressing middleware) is the same
fault as the proxy's, so it reuses the same object: `FaultMiddleware(app, Gzip())`. The app's
`http.response.*` messages are turned into a head and a stream of body chunks, the fault transforms
them, and the result is sent on. The app runs as its own task and hands each message over through
a one-slot queue, so its `send` still waits for the client as it would without the middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.proxy._fault import Cut, Fault, Headers, ResponseHead, UpstreamTimeout, has_body, text_headers

_END = None  # put on the queue when the app has returned


def _raw_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


class FaultMiddleware:
    """Applies `fault` to the responses of `app` whose request target it matches.

    `content_type`: when set, only responses whose Content-Type starts with it are affected (a
    backend mutant that breaks the stream alone). A `Cut` ends the response without its last
    message: the server closes the connection (uvicorn logs that the response was incomplete).
    An `UpstreamTimeout` is answered 504, as a proxy in front of the app would.
    """

    def __init__(self, app: ASGIApp, fault: Fault, *, content_type: str | None = None) -> None:
        if not isinstance(fault, Fault):
            raise TypeError(f"FaultMiddleware needs a harness.proxy fault (a Fault), got {fault!r}")
        self.app, self.fault, self.content_type = app, fault, content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = scope.get("path", "") + (
            f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
        )
        if scope["type"] != "http" or not self.fault.matches(target):
            await self.app(scope, receive, send)
            return
        canned = self.fault.canned_answer(text_headers(scope.get("headers")))
        if canned is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": canned.head.status,
                    "headers": _raw_headers(canned.head.headers),
                }
            )
            await send({"type": "http.response.body", "body": canned.body})
            return
        messages: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=1)

        async def run_app() -> None:
            # _END also after an error (the consumer is still reading), but not when cancelled: the
            # consumer has stopped reading then, and a put into the full queue would never return.
            try:
                await self.app(scope, receive, messages.put)
            except asyncio.CancelledError:
                raise
            except BaseException:
                await messages.put(_END)
                raise
            await messages.put(_END)

        app_task = asyncio.create_task(run_app())
        try:
            await self._respond(str(scope.get("method", "GET")), messages, send)
        finally:
            if not app_task.done():
                app_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await app_task  # the app's own exception, if any, propagates from here

    async def _respond(self, method: str, messages: asyncio.Queue[Message | None], send: Send) -> None:
        start = await messages.get()
        if start is None:
            return  # the app returned without a response; the app task's error (if any) follows
        head = ResponseHead(
            start["status"], text_headers(start.get("headers")), has_body=has_body(method, start["status"])
        )
        content_type = head.header("content-type") or ""
        if self.content_type is not None and not content_type.startswith(self.content_type):
            await send(start)
            while (message := await messages.get()) is not None:
                await send(message)
            return

        async def head_now() -> ResponseHead:
            return head

        try:
            received = await self.fault.receive_head(head_now())
        except UpstreamTimeout:
            await send({"type": "http.response.start", "status": 504, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        changed = self.fault.transform_head(received)
        await send({**start, "status": changed.status, "headers": _raw_headers(changed.headers)})
        try:
            async for piece in self.fault.transform_body(head, _body_chunks(messages)):
                if piece:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
        except Cut:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _body_chunks(messages: asyncio.Queue[Message | None]) -> AsyncIterator[bytes]:
    while (message := await messages.get()) is not None:
        if message["type"] != "http.response.body":
            continue  # e.g. http.response.trailers: dropped, as the proxy drops trailers
        if body := message.get("body", b""):
            yield body
        if not message.get("more_body", False):
            return
