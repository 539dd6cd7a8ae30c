"""The reference backend's seams: a variant of its logic is a small subclass handed to `create_app`.

Each test builds one variant through one seam and shows that the variant's behaviour is what is
served, so the seam is real (a part passed in but never used would leave the default behaviour).
"""

from __future__ import annotations

from typing import Any

import pytest
from sse_starlette import ServerSentEvent

from drafts_api.handlers import DraftsApi
from drafts_api.protocol import Draft, GenerateRequest, TaskState, draft_path
from drafts_api.runner import Generation
from drafts_api.settings import Settings
from drafts_api.stream import TaskEvents
from drafts_api.tasks import TaskRecord, TaskStore

from .api_backend import BackendFactory

pytestmark = pytest.mark.timeout(30)


class AnyCampaignApi(DraftsApi):
    """The ownership check removed."""

    def accepts_stream(self, record: TaskRecord | None, campaign_id: str) -> bool:
        return record is not None


class NoKeyPointsApi(DraftsApi):
    """An input dropped before it reaches the generator."""

    def generation_request(self, body: GenerateRequest) -> GenerateRequest:
        return body.model_copy(update={"key_points": []})


class SilentProgress(TaskEvents):
    """`progress` suppressed, everything else sent."""

    def frames_for(self, record: TaskRecord, retry: int | None) -> list[ServerSentEvent]:
        return [] if record.state is TaskState.PROGRESS else super().frames_for(record, retry)


class StaleDrafts(TaskStore):
    """Serves the first draft saved, whichever is asked for."""

    def __init__(self, redis: Any, *, task_ttl: int, key_prefix: str) -> None:
        super().__init__(redis, task_ttl=task_ttl, key_prefix=key_prefix)
        self.first_id: str | None = None

    async def save_draft(self, draft: Draft) -> None:
        self.first_id = self.first_id or draft.id
        await super().save_draft(draft)

    async def get_draft(self, draft_id: str) -> Draft | None:
        return await super().get_draft(self.first_id or draft_id)


class NeverSaved(Generation):
    """State written in the wrong order, at its worst: SUCCESS is announced, the draft never saved."""

    async def finish(self, draft: Draft) -> None:
        await self.store.update_task_state(self.task_id, TaskState.SUCCESS, {"draft": draft.model_dump(mode="json")})


class NeverSavedApi(DraftsApi):
    generation = NeverSaved


def test_handlers_subclass_replaces_the_ownership_check(make_backend: BackendFactory) -> None:
    """fails if: `create_app(handlers=...)` is ignored or the route does not ask `accepts_stream`."""
    backend = make_backend(app_parts={"handlers": AnyCampaignApi})
    accepted, _run = backend.start_generation(campaign_id="campaign-a")
    with backend.stream(accepted.stream_url.replace("campaign-a", "campaign-b")) as stream:
        stream.expect("started")


def test_handlers_subclass_changes_the_generators_inputs(make_backend: BackendFactory) -> None:
    """fails if: the job bypasses `generation_request`."""
    backend = make_backend(app_parts={"handlers": NoKeyPointsApi})
    _accepted, run = backend.start_generation(key_points=["offline mode"])
    assert run.request.key_points == [], run.request


def test_event_source_subclass_suppresses_an_event(make_backend: BackendFactory) -> None:
    """fails if: `create_app(event_source=...)` is ignored."""
    backend = make_backend(app_parts={"event_source": SilentProgress()})
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        run.progress("Writing...")
        run.succeed()
        stream.expect("success")  # progress never came


def test_store_factory_serves_a_stale_draft(make_backend: BackendFactory) -> None:
    """fails if: `create_app(store_factory=...)` is ignored by the draft route."""

    def stale_store(redis: Any, settings: Settings) -> TaskStore:
        return StaleDrafts(redis, task_ttl=settings.task_ttl, key_prefix=settings.key_prefix)

    backend = make_backend(app_parts={"store_factory": stale_store})
    ids = []
    for topic in ("First draft", "Second draft"):
        accepted, run = backend.start_generation(topic=topic)
        # The stream opens while the task is STARTED: `succeed()` returns once the generator has
        # returned, before the job writes SUCCESS, so a stream opened after it may still see `started`.
        with backend.stream(accepted.stream_url) as stream:
            stream.expect("started")
            run.succeed(title=topic)
            ids.append(stream.expect("success")["draft"]["id"])
    assert backend.client.get(draft_path(ids[1])).json()["title"] == "First draft"


def test_generation_subclass_reorders_the_writes(make_backend: BackendFactory) -> None:
    """fails if: `DraftsApi.generation` is not what the job runs."""
    backend = make_backend(app_parts={"handlers": NeverSavedApi})
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")  # opened before SUCCESS is written, as above
        run.succeed()
        draft_id = stream.expect("success")["draft"]["id"]
    assert backend.client.get(draft_path(draft_id)).status_code == 404  # announced, never saved
