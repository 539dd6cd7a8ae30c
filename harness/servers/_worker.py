"""A generation worker on its own thread and event loop, outside the live backend's lifetime.

In production the task runner is a separate worker process; here it is a thread, so that stopping
and restarting the live backend (a deploy mid-generation) leaves running generations alone, exactly
as a real worker would. It implements `drafts_api.runner.TaskRunner`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable

from redis.asyncio import Redis

from drafts_api.runner import Job
from drafts_api.tasks import TaskStore

_CANCEL_TIMEOUT_S = 5.0


class WorkerThread:
    def __init__(self, redis_factory: Callable[[], Redis], *, task_ttl: int, key_prefix: str) -> None:
        self._redis_factory = redis_factory
        self._task_ttl = task_ttl
        self._key_prefix = key_prefix
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gate-worker", daemon=True)
        self._jobs: set[concurrent.futures.Future[None]] = set()
        self._jobs_lock = threading.Lock()
        self._store: TaskStore | None = None

    def start(self) -> WorkerThread:
        self._thread.start()
        # The Redis client must be created on the loop that uses it.
        self._store = asyncio.run_coroutine_threadsafe(self._make_store(), self._loop).result(_CANCEL_TIMEOUT_S)
        return self

    async def _make_store(self) -> TaskStore:
        return TaskStore(self._redis_factory(), task_ttl=self._task_ttl, key_prefix=self._key_prefix)

    # TaskRunner protocol: called from the backend's event loop.
    def submit(self, job: Job) -> None:
        assert self._store is not None, "WorkerThread.start() was not called"
        future = asyncio.run_coroutine_threadsafe(job(self._store), self._loop)
        with self._jobs_lock:
            self._jobs.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._jobs_lock:
            self._jobs.discard(future)

    async def aclose(self) -> None:
        """The backend shutting down does not stop the worker (it is not the backend's to stop)."""

    @property
    def active_jobs(self) -> int:
        with self._jobs_lock:
            return sum(1 for job in self._jobs if not job.done())

    def cancel_all(self) -> None:
        """Cancel the jobs still running (a previous test's held generations) and wait for them."""
        with self._jobs_lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel()
        concurrent.futures.wait(jobs, timeout=_CANCEL_TIMEOUT_S)

    def stop(self) -> None:
        self.cancel_all()
        if self._store is not None:
            asyncio.run_coroutine_threadsafe(self._store.redis.aclose(), self._loop).result(_CANCEL_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_CANCEL_TIMEOUT_S)
        self._loop.close()
