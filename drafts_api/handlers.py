"""The route handlers of the drafts API, as methods of one overridable class.

Seam: `create_app(handlers=MyApi)` builds the app with a subclass of `DraftsApi`, so a variant of the
backend's logic is a method overridden, not a copied module. The steps worth varying are methods of
their own: `accepts_stream` (the ownership check before a stream), `generation_request` (the inputs the
job gets), `generation_job` (the job submitted to the runner), and the class attribute `generation`
(the job's steps, `drafts_api.runner.Generation`). The stream's frames come from the injected event
source (`drafts_api.stream.TaskEvents`), the task and draft records from the injected store
(`drafts_api.tasks.TaskStore`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from fastapi import FastAPI, HTTPException, Path, Request
from sse_starlette import EventSourceResponse

from drafts_api.generation import DraftGenerator
from drafts_api.openapi import error_responses, stream_responses
from drafts_api.protocol import Draft, GenerateAccepted, GenerateRequest, stream_path
from drafts_api.runner import Generation, Job
from drafts_api.settings import Settings
from drafts_api.stream import EventSource, LiveStreams
from drafts_api.tasks import TaskRecord, TaskStore

CampaignIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The campaign.")]
TaskIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="From the 202 answer.")]

TASK_NOT_FOUND_DETAIL = "No such generation task for this campaign (it may have expired)."


class DraftsApi:
    """The API's behaviour; `install` registers its methods as the routes."""

    generation: ClassVar[type[Generation]] = Generation

    def __init__(
        self, settings: Settings, *, generator: DraftGenerator, event_source: EventSource, live_streams: LiveStreams
    ) -> None:
        self.settings = settings
        self.generator = generator
        self.event_source = event_source
        self.live_streams = live_streams

    def install(self, app: FastAPI) -> None:
        app.add_api_route("/health", self.health, methods=["GET"], summary="Liveness and open streams")
        app.add_api_route(
            "/v1/campaigns/{campaign_id}/drafts/generate",
            self.generate,
            methods=["POST"],
            status_code=202,
            responses=error_responses(400, 404, 413, 422, 503),
            summary="Start generating a draft",
        )
        app.add_api_route(
            "/v1/campaigns/{campaign_id}/drafts/generate/stream/{task_id}",
            self.stream,
            methods=["GET"],
            response_class=EventSourceResponse,
            responses=stream_responses(),
            summary="Follow a generation's progress",
        )
        app.add_api_route(
            "/v1/drafts/{draft_id}",
            self.get_draft,
            methods=["GET"],
            responses=error_responses(404, 422, 500, 503),
            summary="A saved draft",
        )

    @staticmethod
    def store(request: Request) -> TaskStore:
        store: TaskStore = request.app.state.store
        return store

    async def health(self) -> dict[str, Any]:
        return {"status": "ok", "live_streams": self.live_streams.count}

    def generation_request(self, body: GenerateRequest) -> GenerateRequest:
        """The inputs handed to the generator (all of the validated body)."""
        return body

    def generation_job(self, task_id: str, campaign_id: str, body: GenerateRequest) -> Job:
        """The job submitted to the runner; it runs `self.generation` on the runner's own store."""
        request = self.generation_request(body)

        async def job(job_store: TaskStore) -> None:
            generation = self.generation(
                job_store, task_id=task_id, campaign_id=campaign_id, request=request, generator=self.generator
            )
            await generation.run()

        return job

    async def generate(self, campaign_id: CampaignIdPath, body: GenerateRequest, request: Request) -> GenerateAccepted:
        record = await self.store(request).create_task(campaign_id)
        request.app.state.runner.submit(self.generation_job(record.task_id, campaign_id, body))
        return GenerateAccepted(task_id=record.task_id, stream_url=stream_path(campaign_id, record.task_id))

    def accepts_stream(self, record: TaskRecord | None, campaign_id: str) -> bool:
        """Whether `record` may be streamed under `campaign_id`: it exists and belongs to that campaign."""
        return record is not None and record.campaign_id == campaign_id

    async def stream(self, campaign_id: CampaignIdPath, task_id: TaskIdPath, request: Request) -> EventSourceResponse:
        store = self.store(request)
        record = await store.get_task_state(task_id)
        # Checked before the stream starts: a 200 stream ending in an error would make EventSource
        # reconnect to it forever, while a 404 closes it for good.
        if not self.accepts_stream(record, campaign_id):
            raise HTTPException(status_code=404, detail=TASK_NOT_FOUND_DETAIL)
        return EventSourceResponse(
            self.event_source(store, task_id, self.settings, self.live_streams),
            headers={"Cache-Control": "no-cache"},
            # Heartbeats are counted in polls by the event source; sse-starlette's own timer is off (0
            # disables it from sse-starlette 3.7 on).
            ping=0,
        )

    async def get_draft(self, draft_id: TaskIdPath, request: Request) -> Draft:
        draft = await self.store(request).get_draft(draft_id)
        if draft is None:
            raise HTTPException(status_code=404, detail=f"No draft {draft_id!r}.")
        return draft
