"""Backend mutants: small, named variants of the drafts API that break one guarantee each.

Each is an app factory for `--backend-app e2e.mutants.backends:NAME`; it takes every part the harness
offers (`**parts`: settings, generator, redis_factory, runner), so it stays scriptable like the real backend.
Where the broken behaviour lives on the wire (an event renamed, a header dropped, a body buffered),
the mutant is the real app behind a small response rewriter, which is what a misconfigured
middleware or proxy layer in the backend does (buffering and compression are the fault proxy's own
faults, applied as `harness.proxy.FaultMiddleware`: one implementation for both); where it lives in
the logic (saving order, settings), the mutant changes that piece only. The comment on each names the failure mode
(the team's SSE failure-mode notes, see README "Mutants") and the guarantee that must kill it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drafts_api.app import create_app
from drafts_api.generation import DraftGenerator
from drafts_api.protocol import Draft, TaskState
from drafts_api.runner import Job, TaskRunner
from drafts_api.settings import Settings
from drafts_api.tasks import TaskStore
from harness.proxy import BufferBody, FaultMiddleware, Gzip

Headers = list[tuple[bytes, bytes]]
BodyRewrite = Callable[[bytes], bytes]
EVENT_STREAM = "text/event-stream"


class _StreamRewriter:
    """Pure ASGI middleware that edits `text/event-stream` responses (headers, each body chunk)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: Callable[[Headers], Headers] = lambda headers: headers,
        body: BodyRewrite = lambda chunk: chunk,
    ) -> None:
        self.app, self.edit_headers, self.edit_body = app, headers, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_stream = False

        async def rewriting_send(message: Message) -> None:
            nonlocal is_stream
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                is_stream = any(k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers)
                if is_stream:
                    message = {**message, "headers": self.edit_headers(headers)}
            elif message["type"] == "http.response.body" and is_stream:
                message = {**message, "body": self.edit_body(message.get("body", b""))}
            await send(message)

        await self.app(scope, receive, rewriting_send)


def _app(
    settings: Settings, generator: DraftGenerator, redis_factory: Callable[[], Redis], runner: TaskRunner
) -> FastAPI:
    """The real drafts API, built from the parts the harness hands a factory."""
    return create_app(settings, generator=generator, redis_factory=redis_factory, runner=runner)


def _app_with(parts: dict[str, Any], **settings_changes: Any) -> FastAPI:
    return _app(**{**parts, "settings": parts["settings"].model_copy(update=settings_changes)})


def _without(name: bytes) -> Callable[[Headers], Headers]:
    return lambda headers: [(k, v) for k, v in headers if k.lower() != name]


# --- the event model ------------------------------------------------------------------------------


def unnamed_events(**parts: Any) -> ASGIApp:
    """Sends every event without its `event:` line (the mirror image of the production bug): a page
    listening for named events hears nothing. Mode #1. Killed by: progress appears while running."""
    return _StreamRewriter(_app(**parts), body=lambda c: re.sub(rb"event: [^\r\n]*\r?\n", b"", c))


def renamed_success(**parts: Any) -> ASGIApp:
    """Renames `success` to `complete` (a refactor on one side only). Mode #1/#8. Killed by: the page
    lands on the editor; every frame matches the protocol."""
    return _StreamRewriter(_app(**parts), body=lambda c: c.replace(b"event: success", b"event: complete"))


def done_without_data(**parts: Any) -> ASGIApp:
    """Sends `done` with no data line, which browsers never dispatch. Mode #4. Killed by: every frame
    has a data line."""
    return _StreamRewriter(_app(**parts), body=lambda c: re.sub(rb"(event: done\r?\n)data: \{\}\r?\n", rb"\1", c))


def unknown_task_200_stream(**parts: Any) -> ASGIApp:
    """Answers an unknown task with a 200 stream that ends in an error instead of a 404, which makes
    a naive EventSource reconnect forever. Mode #10. Killed by: the unknown-task message."""
    app = _app(**parts)
    body = b'event: error\r\ndata: {"type":"error","message":"Task not found"}\r\n\r\nevent: done\r\ndata: {}\r\n\r\n'

    async def mutant(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "/stream/" not in scope["path"]:
            await app(scope, receive, send)
            return
        start: Message | None = None

        async def answer_404_with_stream(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 404:
                    await send(message)
                return
            if start is not None and start["status"] == 404:
                if not message.get("more_body", False):
                    cors = [(k, v) for k, v in start.get("headers", []) if k.startswith(b"access-control")]
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [(b"content-type", b"text/event-stream"), *cors],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await app(scope, receive, answer_404_with_stream)

    return mutant


# --- transport --------------------------------------------------------------------------------------


def buffered_stream(**parts: Any) -> ASGIApp:
    """Holds the stream's body until it ends (a buffering middleware): the fault proxy's BufferBody
    inside the backend. Mode #15/#16. Killed by: each progress message must be on the page while the
    task is still held."""
    return FaultMiddleware(_app(**parts), BufferBody(), content_type=EVENT_STREAM)


def gzip_stream(**parts: Any) -> ASGIApp:
    """Compresses the stream like a compression middleware that does not flush per event (small
    events stay inside the compressor): the fault proxy's Gzip inside the backend. Mode #16.
    Killed by: progress while held; no Content-Encoding on the stream."""
    return FaultMiddleware(_app(**parts), Gzip(), content_type=EVENT_STREAM)


def wrong_content_type(**parts: Any) -> ASGIApp:
    """Serves the stream as `text/plain`: EventSource fails the connection at once. Mode #9.
    Killed by: the happy path; the stream headers."""

    def retype(headers: Headers) -> Headers:
        return [(k, b"text/plain; charset=utf-8" if k.lower() == b"content-type" else v) for k, v in headers]

    return _StreamRewriter(_app(**parts), headers=retype)


def no_accel_header(**parts: Any) -> ASGIApp:
    """Drops `X-Accel-Buffering: no`: fine in dev, buffered by nginx in production. Mode #15.
    Killed by: progress through a buffering proxy; the stream headers."""
    return _StreamRewriter(_app(**parts), headers=_without(b"x-accel-buffering"))


def no_cors_on_stream(**parts: Any) -> ASGIApp:
    """The stream response lacks `Access-Control-Allow-Origin` (POST still works). Mode #18.
    Killed by: the happy path (the cross-origin EventSource fails); the CORS header check."""
    return _StreamRewriter(_app(**parts), headers=_without(b"access-control-allow-origin"))


def cors_allows_any_origin(**parts: Any) -> ASGIApp:
    """Allows every origin (a regex of `.*`), so any site can drive generations. Mode #18.
    Killed by: the page on a foreign origin must fail."""
    return _app_with(parts, cors_origin_regex=".*")


def no_heartbeats(**parts: Any) -> ASGIApp:
    """Sends no heartbeat while quiet (one every 1000 polls): an idle-timeout proxy cuts the stream.
    Mode #17. Killed by: heartbeats keep a quiet stream alive through an idle timeout."""
    return _app_with(parts, heartbeat_polls=1000)


# --- logic ------------------------------------------------------------------------------------------


class _SavesAfterSuccess:
    """A `TaskStore` stand-in that writes SUCCESS first and the draft only later (a reordered save)."""

    DELAY_S = 2.0

    def __init__(self, store: TaskStore) -> None:
        self._store = store
        self._unsaved: Draft | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def save_draft(self, draft: Draft) -> None:
        self._unsaved = draft

    async def update_task_state(self, task_id: str, state: TaskState, meta: dict[str, Any]) -> Any:
        record = await self._store.update_task_state(task_id, state, meta)
        if state is TaskState.SUCCESS and self._unsaved is not None:
            await asyncio.sleep(self.DELAY_S)
            await self._store.save_draft(self._unsaved)
        return record


class _ReorderingRunner:
    def __init__(self, runner: TaskRunner) -> None:
        self._runner = runner

    def submit(self, job: Job) -> None:
        self._runner.submit(lambda store: job(_SavesAfterSuccess(store)))  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self._runner.aclose()


def success_before_saved(**parts: Any) -> ASGIApp:
    """Sends `success` before the draft is saved: the editor loads a draft that is not there yet.
    Killed by: the draft is readable the moment success arrives."""
    return _app(**{**parts, "runner": _ReorderingRunner(parts["runner"])})


BACKEND_MUTANTS: dict[str, Callable[..., ASGIApp]] = {
    factory.__name__: factory
    for factory in (
        unnamed_events,
        renamed_success,
        done_without_data,
        unknown_task_200_stream,
        buffered_stream,
        gzip_stream,
        wrong_content_type,
        no_accel_header,
        no_cors_on_stream,
        cors_allows_any_origin,
        no_heartbeats,
        success_before_saved,
    )
}
