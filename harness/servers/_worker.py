"""A generation worker on its own thread and event loop, outside the live backend's lifetime.

In production the task runner is a separate worker process; here it is a thread, so that stopping
and restarting the live backend (a deploy mid-generation) leaves running generations alone, exactly
as a real worker would. It implements `drafts_api.runner.TaskRunner`.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable

from redis.asyncio import Redis

from drafts_api.runner import Job
from drafts_api.tasks import TaskStore
from harness.servers._loop import BackgroundLoop

_CANCEL_TIMEOUT_S = 5.0


class WorkerThread:
    def __init__(self, redis_factory: Callable[[], Redis], *, task_ttl: int, key_prefix: str) -> None:
        self._redis_factory = redis_factory
        self._task_ttl = task_ttl
        self._key_prefix = key_prefix
        self._loop = BackgroundLoop("gate-worker")
        self._jobs: set[concurrent.futures.Future[None]] = set()
        self._jobs_lock = threading.Lock()
        self._store: TaskStore | None = None

    def start(self) -> WorkerThread:
        self._loop.start()
        # The Redis client must be created on the loop that uses it.
        self._store = self._loop.run(self._make_store(), _CANCEL_TIMEOUT_S, what="creating the task store")
        return self

    async def _make_store(self) -> TaskStore:
        return TaskStore(self._redis_factory(), task_ttl=self._task_ttl, key_prefix=self._key_prefix)

    # TaskRunner protocol: called from the backend's event loop.
    def submit(self, job: Job) -> None:
        assert self._store is not None, "WorkerThread.start() was not called"
        future = self._loop.submit(job(self._store))
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
            self._loop.run(self._store.redis.aclose(), _CANCEL_TIMEOUT_S, what="closing the worker's Redis client")
        self._loop.stop(_CANCEL_TIMEOUT_S)
