"""The progress stream: polls a task's state in Redis and speaks the named-event protocol.

Stateless on purpose: everything it needs is in Redis, so a reconnect (EventSource does that by itself
after a network error or a backend restart) simply resumes from the current state.

Seam: `TaskEvents` is the stream's event source, passed to `create_app(event_source=...)`. Each
decision is a method (`frames_for`, `event_for`, `payload_for`, `frame`, `heartbeat`, `is_last`,
`ending`), so a variant of the stream (an event suppressed or renamed, no heartbeat, no `done`) is a
small subclass overriding one.
Any callable of the `EventSource` shape works too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from pydantic import BaseModel, ValidationError
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
from drafts_api.redis_pool import pool_exhausted
from drafts_api.settings import Settings
from drafts_api.tasks import CorruptRecord, TaskRecord, TaskStore

logger = logging.getLogger("drafts_api.stream")

STORE_UNAVAILABLE = "Lost connection to the task store. Please try again."
TASK_EXPIRED = "This generation task no longer exists. Please start again."
RECORD_UNREADABLE = "This generation's record is unreadable on the server. Please start again."


class LiveStreams:
    """How many progress streams are open right now (reported by `/health`)."""

    def __init__(self) -> None:
        self.count = 0


class EventSource(Protocol):
    """What the stream route iterates: the frames of one task's stream, ending when the stream ends."""

    def __call__(
        self, store: TaskStore, task_id: str, settings: Settings, live: LiveStreams
    ) -> AsyncIterator[ServerSentEvent]: ...


class TaskEvents:
    """The default event source: one named event per change of task state, heartbeats while quiet,
    `done` after the terminal event. Override a method to build a variant."""

    def event_for(self, record: TaskRecord) -> str:
        """The event name announcing `record`'s state."""
        return EVENT_FOR_STATE[record.state]

    def payload_for(self, record: TaskRecord) -> BaseModel:
        if record.state is TaskState.SUCCESS:
            return CompleteEvent.model_validate({"draft": record.meta["draft"]})
        if record.state is TaskState.FAILURE:
            return ErrorEvent(message=str(record.meta.get("message") or "Draft generation failed."))
        return StatusEvent(message=str(record.meta.get("message") or record.state.value.title()))

    def frame(self, event: str, payload: BaseModel, *, retry: int | None = None) -> ServerSentEvent:
        return ServerSentEvent(event=event, data=payload.model_dump_json(), retry=retry)

    def frames_for(self, record: TaskRecord, retry: int | None) -> list[ServerSentEvent]:
        """What announces a change of state to `record` (one frame; none suppresses the announcement).

        `CorruptRecord` if the record's meta does not make a valid payload (a SUCCESS without its draft).
        """
        try:
            payload = self.payload_for(record)
        except (KeyError, TypeError, ValidationError) as exc:
            raise CorruptRecord(f"task {record.task_id}", f"{record.state.value} meta: {exc!r}") from None
        return [self.frame(self.event_for(record), payload, retry=retry)]

    def heartbeat(self) -> ServerSentEvent | None:
        """The comment sent after `heartbeat_polls` quiet polls; None sends nothing."""
        return ServerSentEvent(comment="heartbeat")

    def is_last(self, record: TaskRecord) -> bool:
        """Whether the stream ends (with `done`) after announcing `record`."""
        return record.state.is_terminal

    def ending(self, message: str, retry: int | None) -> list[ServerSentEvent]:
        """The server's `error` with `message`, then `done`: how a stream that cannot go on ends."""
        return [self.frame("error", ErrorEvent(message=message), retry=retry), self.frame("done", DoneEvent())]

    async def __call__(
        self, store: TaskStore, task_id: str, settings: Settings, live: LiveStreams
    ) -> AsyncIterator[ServerSentEvent]:
        """Cancelled by sse-starlette as soon as the client disconnects, so polling stops at once."""
        live.count += 1
        retry: int | None = settings.retry_ms  # sent once, with the first frame
        last_version: int | None = None
        quiet_polls = 0
        try:
            while True:
                try:
                    record = await store.get_task_state(task_id)
                    frames = (
                        None if record is None or record.version == last_version else self.frames_for(record, retry)
                    )
                except RedisError as exc:
                    if pool_exhausted(exc):
                        # Load, not an outage: the store is fine, this poll found no free connection
                        # within the pool's wait. The next poll tries again; the stream stays open.
                        logger.warning("stream %s: poll skipped, Redis pool busy: %s", task_id, exc)
                        await asyncio.sleep(settings.poll_interval)
                        continue
                    logger.warning("stream %s: Redis unavailable: %s", task_id, exc)
                    for frame in self.ending(STORE_UNAVAILABLE, retry):
                        yield frame
                    return
                except CorruptRecord as exc:
                    logger.error("stream %s: %s", task_id, exc)
                    for frame in self.ending(RECORD_UNREADABLE, retry):
                        yield frame
                    return
                if record is None:
                    for frame in self.ending(TASK_EXPIRED, retry):
                        yield frame
                    return
                if frames is not None:
                    last_version = record.version
                    quiet_polls = 0
                    for frame in frames:
                        yield frame
                        retry = None
                    if self.is_last(record):
                        yield self.frame("done", DoneEvent())
                        return
                else:
                    quiet_polls += 1
                    if quiet_polls >= settings.heartbeat_polls:
                        quiet_polls = 0
                        heartbeat = self.heartbeat()
                        if heartbeat is not None:
                            yield heartbeat
                await asyncio.sleep(settings.poll_interval)
        finally:
            live.count -= 1


def task_events(
    store: TaskStore, task_id: str, settings: Settings, live: LiveStreams
) -> AsyncIterator[ServerSentEvent]:
    """The default event source as a function (kept for callers of the earlier API)."""
    return TaskEvents()(store, task_id, settings, live)
