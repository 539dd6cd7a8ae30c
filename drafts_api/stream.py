"""The progress stream: polls a task's state in Redis and speaks the named-event protocol.

Stateless on purpose: everything it needs is in Redis, so a reconnect (EventSource does that by itself
after a network error or a backend restart) simply resumes from the current state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from pydantic import BaseModel
from redis import RedisError
from sse_starlette import ServerSentEvent

from drafts_api.protocol import (
    EVENT_FOR_STATE,
    CompleteEvent,
    DoneEvent,
    ErrorEvent,
    StatusEvent,
    TaskState,
)
from drafts_api.settings import Settings
from drafts_api.tasks import TaskRecord, TaskStore

logger = logging.getLogger("drafts_api.stream")

STORE_UNAVAILABLE = "Lost connection to the task store. Please try again."
TASK_EXPIRED = "This generation task no longer exists. Please start again."


class LiveStreams:
    """How many progress streams are open right now (reported by `/health`)."""

    def __init__(self) -> None:
        self.count = 0


def _frame(event: str, payload: BaseModel, *, retry: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(event=event, data=payload.model_dump_json(), retry=retry)


def _payload_for(record: TaskRecord) -> BaseModel:
    if record.state is TaskState.SUCCESS:
        return CompleteEvent.model_validate({"draft": record.meta["draft"]})
    if record.state is TaskState.FAILURE:
        return ErrorEvent(message=str(record.meta.get("message") or "Draft generation failed."))
    return StatusEvent(message=str(record.meta.get("message") or record.state.value.title()))


async def task_events(
    store: TaskStore, task_id: str, settings: Settings, live: LiveStreams
) -> AsyncIterator[ServerSentEvent]:
    """Yield one named event per change of task state, heartbeats while quiet, `done` at the end.

    Cancelled by sse-starlette as soon as the client disconnects, so polling stops at once.
    """
    live.count += 1
    retry: int | None = settings.retry_ms  # sent once, with the first frame
    last_version: int | None = None
    quiet_polls = 0
    try:
        while True:
            try:
                record = await store.get_task_state(task_id)
            except RedisError as exc:
                logger.warning("stream %s: Redis unavailable: %s", task_id, exc)
                yield _frame("error", ErrorEvent(message=STORE_UNAVAILABLE), retry=retry)
                yield _frame("done", DoneEvent())
                return
            if record is None:
                yield _frame("error", ErrorEvent(message=TASK_EXPIRED), retry=retry)
                yield _frame("done", DoneEvent())
                return
            if record.version != last_version:
                last_version = record.version
                quiet_polls = 0
                yield _frame(EVENT_FOR_STATE[record.state], _payload_for(record), retry=retry)
                retry = None
                if record.state.is_terminal:
                    yield _frame("done", DoneEvent())
                    return
            else:
                quiet_polls += 1
                if quiet_polls >= settings.heartbeat_polls:
                    quiet_polls = 0
                    yield ServerSentEvent(comment="heartbeat")
            await asyncio.sleep(settings.poll_interval)
    finally:
        live.count -= 1
