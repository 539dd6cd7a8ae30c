"""How the gate runs the production-shaped app: a factory with dependency overrides.

`--backend-app examples.production_shape.gate:create_gate_app`. The harness calls it with the parts
it declares (see `harness.servers.BackendParts`). The recipe for any app of this shape:

- Redis: hand the app `redis_url`. It reaches the worker's fakeredis (or the real Redis of
  `--redis-url`) however the app builds its client: here synchronously, on the first request.
- Generation: override the generation service with one that calls `held_generation.hold(...)`; the
  test then steps the generation by writing the task state the contract declares (`task_state`).
- Authentication: override the dependency that resolves the user (the stub page sends no token).
- An external database: override the repository with an in-memory one and register its reset
  with `on_reset`, so that every test starts empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from examples.production_shape.app import (
    Settings,
    User,
    create_app,
    get_current_user,
    get_draft_repository,
    get_generation_service,
)
from examples.production_shape.contract import GATE_RETRY_MS, KEEPALIVE_POLLS
from harness.contract import AppContract
from harness.scripting import TaskStateScripter


class HeldGenerationService:
    """The app's `GenerationService`, held by the gate: the test decides each step."""

    def __init__(self, held: TaskStateScripter) -> None:
        self._held = held

    def generate(
        self, task_id: str, campaign_id: str, request: dict[str, Any], report_progress: Callable[[str], None]
    ) -> dict[str, str]:
        return self._held.hold(task_id, request)


class InMemoryDrafts:
    """The database, per test: the gate empties it before every test (`on_reset`)."""

    def __init__(self) -> None:
        self._drafts: dict[str, dict[str, Any]] = {}

    def save(self, draft: dict[str, Any]) -> None:
        self._drafts[draft["id"]] = dict(draft)

    def get(self, draft_id: str) -> dict[str, Any] | None:
        return self._drafts.get(draft_id)

    def clear(self) -> None:
        self._drafts.clear()


def create_gate_app(
    redis_url: str,
    held_generation: TaskStateScripter,
    on_reset: Callable[[Callable[[], object]], object],
    cors_origins: tuple[str, ...],
    contract: AppContract,
) -> FastAPI:
    drafts = InMemoryDrafts()
    on_reset(drafts.clear)
    settings = Settings(
        redis_url=redis_url,
        poll_interval=contract.timings.poll_interval_s,
        keepalive_polls=KEEPALIVE_POLLS,
        retry_ms=GATE_RETRY_MS,
        cors_origins=cors_origins,
    )
    app = create_app(settings, drafts=drafts)
    service = HeldGenerationService(held_generation)
    app.dependency_overrides[get_generation_service] = lambda: service
    app.dependency_overrides[get_current_user] = lambda: User(id="gate")
    app.dependency_overrides[get_draft_repository] = lambda: drafts
    return app
