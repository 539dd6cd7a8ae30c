"""Task state and saved drafts in Redis.

One key per task (`{prefix}task:{id}`) holds a JSON `TaskRecord` with a TTL that outlives any
generation; one key per draft (`{prefix}draft:{id}`) holds the saved `Draft`. Every write of the task
state bumps `version`, which is how the stream tells a change of state from another poll of the same one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from drafts_api.protocol import Draft, TaskState


def new_id() -> str:
    """An unguessable id (128 bits, URL-safe): task ids are the only access control of a stream."""
    return secrets.token_urlsafe(16)


def _now() -> datetime:
    return datetime.now(UTC)


class TaskRecord(BaseModel):
    task_id: str
    campaign_id: str
    state: TaskState
    meta: dict[str, Any] = {}
    version: int = 0
    created_at: datetime
    updated_at: datetime


class TaskStore:
    """The API's only access to Redis. Raises `redis.RedisError` when Redis is unreachable."""

    def __init__(self, redis: Redis, *, task_ttl: int, key_prefix: str = "drafts:") -> None:
        self.redis = redis
        self.task_ttl = task_ttl
        self.key_prefix = key_prefix

    def _task_key(self, task_id: str) -> str:
        return f"{self.key_prefix}task:{task_id}"

    def _draft_key(self, draft_id: str) -> str:
        return f"{self.key_prefix}draft:{draft_id}"

    async def create_task(self, campaign_id: str) -> TaskRecord:
        now = _now()
        record = TaskRecord(
            task_id=new_id(),
            campaign_id=campaign_id,
            state=TaskState.PENDING,
            meta={"message": "Waiting for a worker..."},
            created_at=now,
            updated_at=now,
        )
        await self.redis.set(self._task_key(record.task_id), record.model_dump_json(), ex=self.task_ttl)
        return record

    async def update_task_state(self, task_id: str, state: TaskState, meta: dict[str, Any]) -> TaskRecord:
        """Write a new state for an existing task; raises `KeyError` if the task expired or never existed."""
        current = await self.get_task_state(task_id)
        if current is None:
            raise KeyError(f"no task {task_id!r} in Redis (expired or never created)")
        record = current.model_copy(
            update={"state": state, "meta": meta, "version": current.version + 1, "updated_at": _now()}
        )
        await self.redis.set(self._task_key(task_id), record.model_dump_json(), ex=self.task_ttl)
        return record

    async def get_task_state(self, task_id: str) -> TaskRecord | None:
        raw = await self.redis.get(self._task_key(task_id))
        return None if raw is None else TaskRecord.model_validate_json(raw)

    async def save_draft(self, draft: Draft) -> None:
        await self.redis.set(self._draft_key(draft.id), draft.model_dump_json())

    async def get_draft(self, draft_id: str) -> Draft | None:
        raw = await self.redis.get(self._draft_key(draft_id))
        return None if raw is None else Draft.model_validate_json(raw)

    async def ping(self) -> None:
        await self.redis.ping()
