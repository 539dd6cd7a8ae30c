"""The request body limit: a body over `Settings.max_body_bytes` is refused with a 413 before it is parsed.

Hand-written because neither uvicorn nor Starlette/FastAPI bounds a request body (uvicorn bounds
only the header block). A pure ASGI middleware, so it sees the body as it arrives: a declared
`Content-Length` over the limit is refused before any byte is read; a chunked body without one is
read up to the limit and refused the moment it passes it. A body within the limit is handed on
unchanged; at most `limit` bytes are ever held per request.
"""

from __future__ import annotations

import json
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODYLESS: Final = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def _kib(size: int) -> str:
    return f"{size / 1024:g} KiB"


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, received: str) -> None:
        detail = f"The request body is too large: {received}; the limit is {_kib(self.max_bytes)}."
        body = json.dumps({"detail": detail, "errors": []}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        # No `Connection: close`: uvicorn then reads and drops the rest of the body itself (and keeps
        # the connection for the next request, or closes it at its keep-alive timeout). Closing at once
        # with unread data would make the kernel send a reset, which can destroy this answer in flight.
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, f"Content-Length {int(declared)} bytes")
            return
        # Read the whole body first (bounded), so that a refusal never comes half-way through the app.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left mid-body: nobody to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, f"at least {size} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)
