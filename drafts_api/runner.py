"""The task runner: runs generations in the background and records their progress in Redis.

`run_generation` is the job; a `TaskRunner` decides where it runs. The default runs it as an asyncio
task beside the API (cancelled when the API shuts down). A runner living outside the API process's
lifetime (a worker, as Celery is in production) can be passed to `create_app`; the harness does so, so
that a backend restart mid-generation does not kill the generation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol

from redis import RedisError

from drafts_api.generation import DraftContent, DraftGenerator, GenerationFailed
from drafts_api.protocol import Draft, GenerateRequest, TaskState
from drafts_api.stream import STORE_UNAVAILABLE
from drafts_api.tasks import TaskStore, new_id

logger = logging.getLogger("drafts_api.runner")

GENERIC_FAILURE = "Draft generation failed. Please try again."
# Bounded: about half a minute of outage, then the task is left to its TTL.
FAILURE_RECORD_RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
INTERRUPTED = "Draft generation was interrupted. Please try again."

Job = Callable[[TaskStore], Coroutine[Any, Any, None]]
"""A unit of background work; the runner hands it a `TaskStore` bound to the runner's own event loop."""


class TaskRunner(Protocol):
    def submit(self, job: Job) -> None: ...

    async def aclose(self) -> None: ...


class Generation:
    """One generation's steps, in order. Seam: a variant of the job (state written in the wrong order, an
    input dropped, a failure swallowed) is a subclass overriding one step, handed to the API through
    `DraftsApi.generation` (see `drafts_api.handlers`).
    """

    def __init__(
        self, store: TaskStore, *, task_id: str, campaign_id: str, request: GenerateRequest, generator: DraftGenerator
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.campaign_id = campaign_id
        self.request = request
        self.generator = generator

    async def report_progress(self, message: str) -> None:
        await self.store.update_task_state(self.task_id, TaskState.PROGRESS, {"message": message})

    async def start(self) -> None:
        await self.store.update_task_state(self.task_id, TaskState.STARTED, {"message": "Generation started..."})

    def draft_from(self, content: DraftContent) -> Draft:
        return Draft(
            id=new_id(),
            campaign_id=self.campaign_id,
            title=content.title,
            body=content.body,
            tone=self.request.tone,
            length=self.request.length,
            created_at=datetime.now(UTC),
        )

    async def finish(self, draft: Draft) -> None:
        # The draft must be readable before the page is told about it: it navigates straight to it.
        await self.store.save_draft(draft)
        await self.store.update_task_state(self.task_id, TaskState.SUCCESS, {"draft": draft.model_dump(mode="json")})

    async def fail(self, message: str, *, retry_delays: tuple[float, ...] = ()) -> None:
        await _record_failure(self.store, self.task_id, message, retry_delays=retry_delays)

    async def run(self) -> None:
        """STARTED, PROGRESS..., then SUCCESS (draft saved first) or FAILURE."""
        try:
            await self.start()
            content = await self.generator.generate(self.request, self.report_progress)
            await self.finish(self.draft_from(content))
        except GenerationFailed as failure:
            await self.fail(failure.message)
        except asyncio.CancelledError:
            await self.fail(INTERRUPTED)
            raise
        except RedisError as exc:
            # Streams open now report the outage themselves. Without a terminal state, though, the task
            # would look alive until its TTL to any later stream: record the failure once Redis is back.
            logger.warning("task %s: Redis failed during generation: %s", self.task_id, exc)
            await self.fail(STORE_UNAVAILABLE, retry_delays=FAILURE_RECORD_RETRY_DELAYS_S)
        except Exception:
            logger.exception("task %s: the generator raised", self.task_id)
            await self.fail(GENERIC_FAILURE)


async def run_generation(
    store: TaskStore,
    *,
    task_id: str,
    campaign_id: str,
    request: GenerateRequest,
    generator: DraftGenerator,
) -> None:
    """Generate one draft with the default steps (`Generation`)."""
    await Generation(store, task_id=task_id, campaign_id=campaign_id, request=request, generator=generator).run()


async def _record_failure(
    store: TaskStore, task_id: str, message: str, *, retry_delays: tuple[float, ...] = ()
) -> None:
    for delay in (*retry_delays, None):
        try:
            await store.update_task_state(task_id, TaskState.FAILURE, {"message": message})
            return
        except KeyError as exc:  # the task expired meanwhile: nobody is waiting for it
            logger.warning("task %s: could not record failure %r: %s", task_id, message, exc)
            return
        except RedisError as exc:
            if delay is None:
                logger.warning("task %s: could not record failure %r: %s", task_id, message, exc)
                return
            await asyncio.sleep(delay)


class InProcessRunner:
    """Runs jobs as asyncio tasks on the API's event loop, with the API's store."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store
        # Strong references: the event loop keeps only weak ones to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(job(self.store))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
