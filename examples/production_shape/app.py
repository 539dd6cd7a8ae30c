"""A drafts backend built the way the production one is described (FastAPI + Redis task state).

- `POST /campaigns/{campaign_id}/drafts/generate` answers `{"task_id", "status": "queued"}`; the page
  builds the stream URL itself.
- An in-process background task (a FastAPI `BackgroundTasks` job, on a worker thread) runs the
  generation and records `{"state": PENDING|STARTED|PROGRESS|SUCCESS|FAILURE, "meta": {...},
  "updated_at"}` as JSON under `task:{id}` with a TTL, through a *synchronous* `redis.from_url`
  client created on the first request.
- `GET .../stream/{task_id}` polls that key (1.5 s in production) and sends one named event per
  change: `pending`/`started` (`{"state"}`), `progress` (`{"type": "status", "message"}`), `success`
  (`{"type": "complete", "draft": {...}}`), `error` (`{"type": "error", "message"}`), then `done`
  (`{}`); a `: keepalive` comment every 10 quiet polls.
- Drafts live in a database (`DraftRepository`; SQLite by default); every route needs a bearer
  token (`get_current_user`).

Its real defects, kept on purpose because production has them (the gate reports them as known
findings): an unknown task reads as PENDING, so its stream sends `pending` forever; and the stream
does not check that the task belongs to the campaign in its URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Protocol

import redis
from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

logger = logging.getLogger("production_shape")

STORE_UNAVAILABLE = "The task store is unavailable. Please try again shortly."
STREAM_STORE_LOST = "Lost connection to the task store. Please try again."
GENERIC_FAILURE = "Draft generation failed. Please try again."


@dataclass(frozen=True)
class Settings:
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
    database_path: str = field(default_factory=lambda: os.environ.get("DRAFTS_DB", "drafts.db"))
    api_tokens: tuple[str, ...] = field(default_factory=lambda: tuple(os.environ.get("API_TOKENS", "").split(",")))
    poll_interval: float = 1.5
    keepalive_polls: int = 10
    retry_ms: int | None = None  # production sends no `retry:`
    task_ttl: int = 3600
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)


# --- request and payloads ----------------------------------------------------------------------


class Channel(StrEnum):
    email = "email"
    linkedin = "linkedin"
    blog = "blog"


class DraftOptions(BaseModel):
    word_count: int = Field(300, ge=50, le=2000)


class GenerateDraftRequest(BaseModel):
    brief: str = Field(min_length=10, max_length=2000)
    channel: Channel = Channel.email
    options: DraftOptions = Field(default_factory=lambda: DraftOptions(word_count=300))


class TaskState(StrEnum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


# --- seams: authentication, the database, the generation service --------------------------------


@dataclass(frozen=True)
class User:
    id: str


class DraftRepository(Protocol):
    def save(self, draft: dict[str, Any]) -> None: ...

    def get(self, draft_id: str) -> dict[str, Any] | None: ...


class SqliteDraftRepository:
    """The app's database (a stand-in for its Postgres): one JSON document per draft."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS drafts (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")

    def save(self, draft: dict[str, Any]) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO drafts VALUES (?, ?)", (draft["id"], json.dumps(draft)))

    def get(self, draft_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        return json.loads(row[0]) if row else None


class GenerationError(Exception):
    """A failure whose message is meant for the user."""


class GenerationService(Protocol):
    def generate(
        self, task_id: str, campaign_id: str, request: dict[str, Any], report_progress: Callable[[str], None]
    ) -> dict[str, str]:
        """The draft's `{"title", "body"}`; slow (a language model in production)."""
        ...


class TemplateGenerationService:
    """The default service: deterministic, offline, a little slow."""

    def generate(
        self, task_id: str, campaign_id: str, request: dict[str, Any], report_progress: Callable[[str], None]
    ) -> dict[str, str]:
        for message in ("Reading the brief...", "Drafting...", "Polishing..."):
            report_progress(message)
            time.sleep(0.5)
        brief = str(request["brief"])
        return {"title": brief[:60], "body": f"{brief}\n\nWritten for {request['channel']}."}


# The dependencies a team overrides in tests (app.dependency_overrides); the gate does too.
def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_redis(request: Request) -> redis.Redis:
    """The synchronous client, created on the first request (as production does)."""
    state = request.app.state
    with state.redis_lock:
        if state.redis is None:
            state.redis = redis.from_url(state.settings.redis_url, decode_responses=True, socket_timeout=2.0)
        client: redis.Redis = state.redis
    return client


def get_current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> User:
    settings = get_settings(request)
    token = (authorization or "").removeprefix("Bearer ").strip()
    if not token or token not in settings.api_tokens:
        raise HTTPException(status_code=401, detail="Not authenticated.")
    return User(id=f"token:{token[:4]}")


def get_draft_repository(request: Request) -> DraftRepository:
    repository: DraftRepository = request.app.state.drafts
    return repository


def get_generation_service() -> GenerationService:
    return TemplateGenerationService()


# --- the worker ----------------------------------------------------------------------------------


def write_state(client: redis.Redis, task_id: str, state: TaskState, meta: dict[str, Any], ttl: int) -> None:
    record = {"state": state.value, "meta": meta, "updated_at": time.time()}
    client.set(f"task:{task_id}", json.dumps(record), ex=ttl)


def run_generation(
    client: redis.Redis,
    service: GenerationService,
    drafts: DraftRepository,
    *,
    task_id: str,
    campaign_id: str,
    request: dict[str, Any],
    ttl: int,
) -> None:
    def report_progress(message: str) -> None:
        write_state(client, task_id, TaskState.PROGRESS, {"type": "status", "message": message}, ttl)

    try:
        write_state(client, task_id, TaskState.STARTED, {}, ttl)
        content = service.generate(task_id, campaign_id, request, report_progress)
        draft = {
            "id": str(uuid.uuid4()),
            "campaign_id": campaign_id,
            "title": content["title"],
            "content": content["body"],
            "channel": request["channel"],
            "word_count": request["options"]["word_count"],
            "status": "draft",
        }
        drafts.save(draft)
        write_state(client, task_id, TaskState.SUCCESS, {"type": "complete", "draft": draft}, ttl)
    except GenerationError as exc:
        write_state(client, task_id, TaskState.FAILURE, {"type": "error", "message": str(exc)}, ttl)
    except Exception:
        logger.exception("task %s: generation failed", task_id)
        try:
            write_state(client, task_id, TaskState.FAILURE, {"type": "error", "message": GENERIC_FAILURE}, ttl)
        except redis.RedisError:
            logger.warning("task %s: could not record the failure", task_id)


# --- the stream ----------------------------------------------------------------------------------

_UNSEEN = object()


def _event_for(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    state = record.get("state")
    meta = record.get("meta") or {}
    if state == TaskState.PROGRESS:
        return "progress", meta
    if state == TaskState.SUCCESS:
        return "success", meta
    if state == TaskState.FAILURE:
        return "error", meta
    if state == TaskState.STARTED:
        return "started", {"state": state}
    return "pending", {"state": TaskState.PENDING.value}


async def task_events(client: redis.Redis, task_id: str, settings: Settings) -> AsyncIterator[ServerSentEvent]:
    last: object = _UNSEEN
    quiet_polls = 0
    while True:
        try:
            raw = await asyncio.to_thread(client.get, f"task:{task_id}")
        except redis.RedisError as exc:
            logger.warning("stream %s: Redis failed: %s", task_id, exc)
            yield ServerSentEvent(event="error", data=json.dumps({"type": "error", "message": STREAM_STORE_LOST}))
            yield ServerSentEvent(event="done", data="{}")
            return
        if raw != last:
            first = last is _UNSEEN
            last = raw
            quiet_polls = 0
            # Defect kept from production: an unknown (or expired) task reads as PENDING.
            record = json.loads(raw) if raw is not None else {"state": TaskState.PENDING.value}
            name, data = _event_for(record)
            yield ServerSentEvent(event=name, data=json.dumps(data), retry=settings.retry_ms if first else None)
            if name in ("success", "error"):
                yield ServerSentEvent(event="done", data="{}")
                return
        else:
            quiet_polls += 1
            if quiet_polls >= settings.keepalive_polls:
                quiet_polls = 0
                yield ServerSentEvent(comment="keepalive")
        await asyncio.sleep(settings.poll_interval)


# --- the app -------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None, *, drafts: DraftRepository | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title="Drafts (production shape)")
    app.state.settings = settings
    app.state.redis = None
    app.state.redis_lock = threading.Lock()
    app.state.drafts = drafts if drafts is not None else SqliteDraftRepository(settings.database_path)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Authorization"],
    )

    @app.exception_handler(redis.RedisError)
    async def store_unavailable(request: Request, exc: redis.RedisError) -> JSONResponse:
        logger.warning("%s %s: Redis unavailable: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": STORE_UNAVAILABLE}, status_code=503)

    @app.post("/campaigns/{campaign_id}/drafts/generate")
    def generate(
        campaign_id: uuid.UUID,
        body: GenerateDraftRequest,
        background_tasks: BackgroundTasks,
        user: Annotated[User, Depends(get_current_user)],
        client: Annotated[redis.Redis, Depends(get_redis)],
        service: Annotated[GenerationService, Depends(get_generation_service)],
        repository: Annotated[DraftRepository, Depends(get_draft_repository)],
    ) -> dict[str, str]:
        task_id = str(uuid.uuid4())
        write_state(client, task_id, TaskState.PENDING, {}, settings.task_ttl)
        background_tasks.add_task(
            run_generation,
            client,
            service,
            repository,
            task_id=task_id,
            campaign_id=str(campaign_id),
            request=body.model_dump(mode="json"),
            ttl=settings.task_ttl,
        )
        return {"task_id": task_id, "status": "queued"}

    @app.get("/campaigns/{campaign_id}/drafts/generate/stream/{task_id}")
    async def stream(
        campaign_id: uuid.UUID, task_id: str, client: Annotated[redis.Redis, Depends(get_redis)]
    ) -> EventSourceResponse:
        # Defect kept from production: the task's campaign is not checked against `campaign_id`.
        return EventSourceResponse(
            task_events(client, task_id, settings), headers={"Cache-Control": "no-cache"}, ping=0
        )

    @app.get("/campaigns/{campaign_id}/drafts/{draft_id}")
    def get_draft(
        campaign_id: uuid.UUID,
        draft_id: str,
        user: Annotated[User, Depends(get_current_user)],
        repository: Annotated[DraftRepository, Depends(get_draft_repository)],
    ) -> dict[str, Any]:
        draft = repository.get(draft_id)
        if draft is None or draft["campaign_id"] != str(campaign_id):
            raise HTTPException(status_code=404, detail="Draft not found.")
        return draft

    return app
