"""A task runner that keeps each submitted generation until the test lets it start."""

from __future__ import annotations

import asyncio
import queue

from drafts_api.runner import Job
from drafts_api.tasks import TaskStore


class HeldRunner:
    """`drafts_api.runner.TaskRunner` whose jobs wait for `start_next()`: the task stays PENDING till then.

    Jobs run on the loop that submitted them (the server's), where the app's store lives.
    """

    def __init__(self) -> None:
        self._submitted: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, Job]] = queue.SimpleQueue()

    def submit(self, job: Job) -> None:
        self._submitted.put((asyncio.get_running_loop(), job))

    async def aclose(self) -> None:
        """Nothing to do: a job not started yet is simply never run."""

    def start_next(self, store: TaskStore, timeout: float = 5.0) -> None:
        try:
            loop, job = self._submitted.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no generation was submitted to the runner within {timeout} s") from None

        async def run() -> None:  # a coroutine, which is what run_coroutine_threadsafe takes
            await job(store)

        asyncio.run_coroutine_threadsafe(run(), loop)
