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
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

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
from drafts_api.limits import BodyLimit
from drafts_api.protocol import ErrorResponse
from drafts_api.redis_pool import pool_exhausted, redis_client
from drafts_api.runner import InProcessRunner, TaskRunner
from drafts_api.settings import Settings, load_settings
from drafts_api.stream import EventSource, LiveStreams, TaskEvents
from drafts_api.tasks import CorruptRecord, TaskStore
from drafts_api.validation import readable_errors, summary

__all__ = [
    "CORRUPT_RECORD_DETAIL",
    "INTERNAL_ERROR_DETAIL",
    "STORE_BUSY_DETAIL",
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
STORE_BUSY_DETAIL = "The drafts service is busy. Please try again in a moment."
CORRUPT_RECORD_DETAIL = "This record is unreadable on the server. Please start a new generation."
INTERNAL_ERROR_DETAIL = "Internal error in the drafts service. Please try again."


def default_redis_factory(settings: Settings) -> RedisFactory:
    """A client on a bounded blocking pool (`drafts_api.redis_pool`): `settings.redis_url`'s server, else
    an embedded fakeredis server that outlives app restarts within the process, like a real server."""
    server = None if settings.redis_url else fakeredis.FakeServer()
    return lambda: redis_client(settings, server)


def default_store_factory(redis: Redis, settings: Settings) -> TaskStore:
    return TaskStore(redis, task_ttl=settings.task_ttl, key_prefix=settings.key_prefix)


def _error(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorResponse(detail=detail).model_dump(), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = readable_errors(list(exc.errors()))
        return JSONResponse(ErrorResponse(detail=summary(errors), errors=errors).model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The exception's headers carry meaning (`Allow` on a 405): keep them.
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RedisError)
    async def store_unavailable(request: Request, exc: RedisError) -> JSONResponse:
        if pool_exhausted(exc):
            # Load, not an outage: the store is healthy, every pool connection was busy for the whole wait.
            logger.warning("%s %s: Redis pool busy: %s", request.method, request.url.path, exc)
            return _error(503, STORE_BUSY_DETAIL, {"Retry-After": "1"})
        logger.warning("%s %s: Redis unavailable: %s", request.method, request.url.path, exc)
        return _error(503, STORE_UNAVAILABLE_DETAIL)

    @app.exception_handler(CorruptRecord)
    async def corrupt_record(request: Request, exc: CorruptRecord) -> JSONResponse:
        logger.error("%s %s: %s", request.method, request.url.path, exc)
        return _error(500, CORRUPT_RECORD_DETAIL)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # The JSON error contract holds for bugs too; the traceback goes to the log, not to the client.
        logger.error("%s %s: unhandled %r", request.method, request.url.path, exc, exc_info=exc)
        return _error(500, INTERNAL_ERROR_DETAIL)


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
    settings = settings or load_settings()
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
    # Added before CORS so that CORS wraps it: a page can read the 413's detail.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
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
