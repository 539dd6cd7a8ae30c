"""Task state and saved drafts in Redis.

One key per task (`{prefix}task:{id}`) holds a JSON `TaskRecord` with a TTL that outlives any
generation; one key per draft (`{prefix}draft:{id}`) holds the saved `Draft`. Every write of the task
state bumps `version`, which is how the stream tells a change of state from another poll of the same one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from drafts_api.protocol import Draft, TaskState


def new_id() -> str:
    """An unguessable id (128 bits, URL-safe): task ids are the only access control of a stream."""
    return secrets.token_urlsafe(16)


def _now() -> datetime:
    return datetime.now(UTC)


_Model = TypeVar("_Model", bound=BaseModel)


class CorruptRecord(Exception):
    """A record in Redis that does not parse (written by another version, or damaged): not an outage."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"the record at {key!r} is unreadable: {reason}")
        self.key = key


def _parse(model: type[_Model], key: str, raw: bytes | str) -> _Model:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "the record"
        raise CorruptRecord(key, f"{where}: {first.get('msg')} ({exc.error_count()} error(s))") from None


class TaskRecord(BaseModel):
    task_id: str
    campaign_id: str
    state: TaskState
    meta: dict[str, Any] = {}
    version: int = 0
    created_at: datetime
    updated_at: datetime


class TaskStore:
    """The API's only access to Redis. Raises `redis.RedisError` when Redis is unreachable or its pool
    is busy (`drafts_api.redis_pool.pool_exhausted` tells which), `CorruptRecord` for a record that does
    not parse.

    Seam: `create_app(store_factory=...)` takes a subclass (e.g. one serving stale drafts).
    """

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
        """The task's record, None if there is none; `CorruptRecord` if it does not parse."""
        key = self._task_key(task_id)
        raw = await self.redis.get(key)
        return None if raw is None else _parse(TaskRecord, key, raw)

    async def save_draft(self, draft: Draft) -> None:
        await self.redis.set(self._draft_key(draft.id), draft.model_dump_json())

    async def get_draft(self, draft_id: str) -> Draft | None:
        """The saved draft, None if there is none; `CorruptRecord` if it does not parse."""
        key = self._draft_key(draft_id)
        raw = await self.redis.get(key)
        return None if raw is None else _parse(Draft, key, raw)

    async def ping(self) -> None:
        await self.redis.ping()
