"""The FastAPI application: generation requests, the progress stream, saved drafts.

`create_app` assembles the parts, each replaceable (the seams, for variants of the backend's logic):

- `generator`: how drafts are made (`drafts_api.generation.DraftGenerator`);
- `redis_factory`: the Redis client; `store_factory`: the task and draft store built on it
  (`drafts_api.tasks.TaskStore` or a subclass, e.g. one that serves a stale draft);
- `runner`: where generations run (`drafts_api.runner.TaskRunner`);
- `handlers`: the route handlers, a subclass of `drafts_api.handlers.DraftsApi` (a check removed, an
  input dropped, the generation's steps reordered through its `generation` attribute);
- `event_source`: the stream's frames, a `drafts_api.stream.TaskEvents` subclass or any `EventSource`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import fakeredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from redis import RedisError
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException

from drafts_api.generation import DeterministicGenerator, DraftGenerator
from drafts_api.handlers import TASK_NOT_FOUND_DETAIL, DraftsApi
from drafts_api.protocol import ErrorResponse
from drafts_api.runner import InProcessRunner, TaskRunner
from drafts_api.settings import Settings
from drafts_api.stream import EventSource, LiveStreams, TaskEvents
from drafts_api.tasks import TaskStore

__all__ = [
    "STORE_UNAVAILABLE_DETAIL",
    "TASK_NOT_FOUND_DETAIL",
    "RedisFactory",
    "StoreFactory",
    "create_app",
    "default_redis_factory",
    "default_store_factory",
]

logger = logging.getLogger("drafts_api")

RedisFactory = Callable[[], Redis]
"""Builds the API's Redis client; called inside the lifespan, on the event loop that will use it."""

StoreFactory = Callable[[Redis, Settings], TaskStore]
"""Builds the task and draft store on the API's Redis client."""

STORE_UNAVAILABLE_DETAIL = "The task store is unavailable. Please try again shortly."


def default_redis_factory(settings: Settings) -> RedisFactory:
    """A real Redis client for `settings.redis_url`, else an embedded fakeredis server."""
    if settings.redis_url:
        url = settings.redis_url
        # Bounded timeouts: a dead Redis must become a clear error, never a hung request or stream.
        return lambda: Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    server = fakeredis.FakeServer()  # outlives app restarts within the process, like a real server
    return lambda: fakeredis.FakeAsyncRedis(server=server)


def default_store_factory(redis: Redis, settings: Settings) -> TaskStore:
    return TaskStore(redis, task_ttl=settings.task_ttl, key_prefix=settings.key_prefix)


def _readable(errors: list[dict[str, Any]]) -> list[str]:
    readable = []
    for error in errors:
        if error.get("type") == "json_invalid":  # loc holds a character position, not a field
            reason = (error.get("ctx") or {}).get("error", "")
            readable.append(f"the body is not valid JSON ({reason})" if reason else "the body is not valid JSON")
            continue
        location = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "path"))
        readable.append(f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg")))
    return readable


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _readable(list(exc.errors()))
        body = ErrorResponse(detail="Invalid request: " + "; ".join(errors), errors=errors)
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(ErrorResponse(detail=str(exc.detail)).model_dump(), status_code=exc.status_code)

    @app.exception_handler(RedisError)
    async def store_unavailable(request: Request, exc: RedisError) -> JSONResponse:
        logger.warning("%s %s: Redis unavailable: %s", request.method, request.url.path, exc)
        return JSONResponse(ErrorResponse(detail=STORE_UNAVAILABLE_DETAIL).model_dump(), status_code=503)


def create_app(
    settings: Settings | None = None,
    *,
    generator: DraftGenerator | None = None,
    redis_factory: RedisFactory | None = None,
    runner: TaskRunner | None = None,
    store_factory: StoreFactory | None = None,
    handlers: type[DraftsApi] = DraftsApi,
    event_source: EventSource | None = None,
) -> FastAPI:
    """Build the API from its parts (see the module docstring); every part has a default.

    When `runner` is given, the caller owns its lifetime (it outlives this app's shutdown), else an
    in-process runner is used.
    """
    settings = settings or Settings()
    make_redis = redis_factory or default_redis_factory(settings)
    make_store = store_factory or default_store_factory
    live_streams = LiveStreams()
    api = handlers(
        settings,
        generator=generator or DeterministicGenerator(),
        event_source=event_source or TaskEvents(),
        live_streams=live_streams,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = make_redis()
        store = make_store(redis, settings)
        own_runner = runner is None
        app.state.store = store
        app.state.runner = InProcessRunner(store) if runner is None else runner
        try:
            yield
        finally:
            if own_runner:
                await app.state.runner.aclose()
            await redis.aclose()

    app = FastAPI(
        title="Drafts API",
        summary="Generates campaign drafts and streams their progress as named Server-Sent Events.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.live_streams = live_streams
    app.state.api = api
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_origin_regex=settings.cors_origin_regex,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    _install_error_handlers(app)
    api.install(app)
    return app
