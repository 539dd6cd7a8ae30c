"""A window onto the API's Redis traffic: how often the task state is read, and slower draft writes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

from redis.asyncio import Redis as AsyncRedis

from drafts_api.tasks import TaskStore


def _naming_store(key_prefix: str) -> TaskStore:
    # Key names come from the store itself rather than being re-typed here, so a changed key layout
    # cannot silently desync; this store only names keys and never touches its (absent) client.
    return TaskStore(cast(AsyncRedis, None), task_ttl=60, key_prefix=key_prefix)


def task_key(key_prefix: str, task_id: str) -> str:
    return _naming_store(key_prefix)._task_key(task_id)


def draft_key(key_prefix: str, draft_id: str) -> str:
    return _naming_store(key_prefix)._draft_key(draft_id)


class PollCounter:
    """Counts reads of task states (the stream's polls), so a test can wait for N more of them.

    Written on the server's event loop, read by the test thread: hence a Condition.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0

    def record(self) -> None:
        with self._condition:
            self._count += 1
            self._condition.notify_all()

    @property
    def count(self) -> int:
        with self._condition:
            return self._count

    def wait_for(self, count: int, timeout: float) -> bool:
        """True once at least `count` reads happened in total; False if not within `timeout`."""
        with self._condition:
            return self._condition.wait_for(lambda: self._count >= count, timeout)


class InstrumentedRedis:
    """Wraps the app's async client: counts task-state reads, optionally delays draft writes.

    Delegates instead of subclassing because it must wrap fakeredis and redis-py clients alike. The
    draft-write delay widens the window between "draft saved" and "SUCCESS written", so a backend that
    announces success before the draft is readable fails every time instead of once in a while.
    """

    def __init__(
        self, inner: AsyncRedis, *, key_prefix: str, polls: PollCounter, draft_write_delay: float = 0.0
    ) -> None:
        self._inner = inner
        self._task_prefix = task_key(key_prefix, "")
        self._draft_prefix = draft_key(key_prefix, "")
        self._polls = polls
        self._draft_write_delay = draft_write_delay

    async def get(self, name: str) -> Any:
        value = await self._inner.get(name)
        if name.startswith(self._task_prefix):
            self._polls.record()
        return value

    async def set(self, name: str, value: Any, **options: Any) -> Any:
        if self._draft_write_delay and name.startswith(self._draft_prefix):
            await asyncio.sleep(self._draft_write_delay)
        return await self._inner.set(name, value, **options)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)
