"""The FastAPI application: generation requests, the progress stream, saved drafts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import fakeredis
from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from redis import RedisError
from redis.asyncio import Redis
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from drafts_api.generation import DeterministicGenerator, DraftGenerator
from drafts_api.protocol import (
    STREAM_EVENTS,
    Draft,
    ErrorResponse,
    GenerateAccepted,
    GenerateRequest,
    stream_path,
)
from drafts_api.runner import InProcessRunner, TaskRunner, run_generation
from drafts_api.settings import Settings
from drafts_api.stream import LiveStreams, task_events
from drafts_api.tasks import TaskStore

logger = logging.getLogger("drafts_api")

RedisFactory = Callable[[], Redis]
"""Builds the API's Redis client; called inside the lifespan, on the event loop that will use it."""

CampaignIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The campaign.")]
TaskIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="From the 202 answer.")]

STORE_UNAVAILABLE_DETAIL = "The task store is unavailable. Please try again shortly."
TASK_NOT_FOUND_DETAIL = "No such generation task for this campaign (it may have expired)."
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (404, 422, 503)
}


def default_redis_factory(settings: Settings) -> RedisFactory:
    """A real Redis client for `settings.redis_url`, else an embedded fakeredis server."""
    if settings.redis_url:
        url = settings.redis_url
        # Bounded timeouts: a dead Redis must become a clear error, never a hung request or stream.
        return lambda: Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    server = fakeredis.FakeServer()  # outlives app restarts within the process, like a real server
    return lambda: fakeredis.FakeAsyncRedis(server=server)


def _stream_openapi() -> dict[str, Any]:
    events = {name: model.model_json_schema() for name, model in STREAM_EVENTS.items()}
    return {
        "description": (
            "A `text/event-stream` of named events, each with one JSON `data:` line: "
            + ", ".join(f"`{name}` ({model.__name__})" for name, model in STREAM_EVENTS.items())
            + ". `done` follows the terminal `success` or `error`, then the response ends."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}, "x-sse-events": events}},
    }


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
) -> FastAPI:
    """Build the API.

    `generator` is the generation seam (default: deterministic, offline). `redis_factory` builds the
    Redis client (default: from `settings.redis_url`). `runner` runs generations; when given, the
    caller owns its lifetime (it outlives this app's shutdown), else an in-process runner is used.
    """
    settings = settings or Settings()
    generator = generator or DeterministicGenerator()
    make_redis = redis_factory or default_redis_factory(settings)
    live_streams = LiveStreams()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = make_redis()
        store = TaskStore(redis, task_ttl=settings.task_ttl, key_prefix=settings.key_prefix)
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
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_origin_regex=settings.cors_origin_regex,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    _install_error_handlers(app)

    def store_of(request: Request) -> TaskStore:
        store: TaskStore = request.app.state.store
        return store

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "live_streams": live_streams.count}

    @app.post(
        "/v1/campaigns/{campaign_id}/drafts/generate",
        status_code=202,
        responses=_ERRORS,
        summary="Start generating a draft",
    )
    async def generate(campaign_id: CampaignIdPath, body: GenerateRequest, request: Request) -> GenerateAccepted:
        store = store_of(request)
        record = await store.create_task(campaign_id)

        async def job(job_store: TaskStore) -> None:
            await run_generation(
                job_store, task_id=record.task_id, campaign_id=campaign_id, request=body, generator=generator
            )

        request.app.state.runner.submit(job)
        return GenerateAccepted(task_id=record.task_id, stream_url=stream_path(campaign_id, record.task_id))

    @app.get(
        "/v1/campaigns/{campaign_id}/drafts/generate/stream/{task_id}",
        response_class=EventSourceResponse,
        responses={200: _stream_openapi(), 404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
        summary="Follow a generation's progress",
    )
    async def stream(campaign_id: CampaignIdPath, task_id: TaskIdPath, request: Request) -> EventSourceResponse:
        store = store_of(request)
        record = await store.get_task_state(task_id)
        # Checked before the stream starts: a 200 stream ending in an error would make EventSource
        # reconnect to it forever, while a 404 closes it for good.
        if record is None or record.campaign_id != campaign_id:
            raise HTTPException(status_code=404, detail=TASK_NOT_FOUND_DETAIL)
        return EventSourceResponse(
            task_events(store, task_id, settings, live_streams),
            headers={"Cache-Control": "no-cache"},
            # Heartbeats are counted in polls by task_events; sse-starlette's own timer is off (0
            # disables it from sse-starlette 3.7 on).
            ping=0,
        )

    @app.get("/v1/drafts/{draft_id}", responses=_ERRORS, summary="A saved draft")
    async def get_draft(draft_id: TaskIdPath, request: Request) -> Draft:
        draft = await store_of(request).get_draft(draft_id)
        if draft is None:
            raise HTTPException(status_code=404, detail=f"No draft {draft_id!r}.")
        return draft

    return app
