"""One asyncio event loop in a daemon thread, with bounded start and stop.

The live server (uvicorn), the fault proxy and the generation worker each need a loop of their own
that outlives a single call and does not block the test thread. This is that lifecycle, written once:
`start()` returns when the loop runs (or raises), `run()` / `submit()` hand it coroutines from any
thread, `stop()` cancels what is left and joins the thread within a bound, or says what hangs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0


class BackgroundLoopError(RuntimeError):
    """The loop did not start or stop in time, or a coroutine handed to it did not finish in time."""


class BackgroundLoop:
    """An asyncio loop running forever in a daemon thread named `name`, until `stop()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise BackgroundLoopError(f"the background loop {self.name!r} has not been started")
        return self._loop

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = START_TIMEOUT_S) -> BackgroundLoop:
        if self._thread is not None:
            raise BackgroundLoopError(f"the background loop {self.name!r} is already running")
        loop = asyncio.new_event_loop()
        running = threading.Event()
        loop.call_soon(running.set)  # the first callback runs only once run_forever() has begun
        thread = threading.Thread(target=self._run, args=(loop,), name=self.name, daemon=True)
        thread.start()
        if not running.wait(timeout):
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            raise BackgroundLoopError(f"the background loop {self.name!r} did not start within {timeout} s")
        self._loop, self._thread = loop, thread
        return self

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            asyncio.set_event_loop(None)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedules `coroutine` on the loop from any thread; the future carries its result."""
        if not self.is_running:
            coroutine.close()  # never awaited: close it so Python does not warn about it
            raise BackgroundLoopError(f"the background loop {self.name!r} is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float, *, what: str = "") -> T:
        """Runs `coroutine` on the loop and returns its result; cancels it and raises after `timeout`."""
        label = what or getattr(coroutine, "__qualname__", repr(coroutine))
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BackgroundLoopError(f"{label} did not finish within {timeout} s on {self.name!r}") from None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Cancels the tasks still on the loop, stops it and joins the thread, all within `timeout`."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._thread = None
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed itself meanwhile
                asyncio.run_coroutine_threadsafe(_cancel_remaining(timeout / 2), loop).result(timeout)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        if thread.is_alive():
            raise BackgroundLoopError(f"the background loop {self.name!r} did not stop within {timeout} s")
        self._loop = None
        loop.close()

    def __enter__(self) -> BackgroundLoop:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<BackgroundLoop {self.name!r} {'running' if self.is_running else 'stopped'}>"


async def _cancel_remaining(grace: float) -> None:
    """What `asyncio.run` does at its end: cancel every other task and let it finish, here bounded."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=grace)
        if pending:
            logger.debug("background loop: %d tasks ignored cancellation for %s s", len(pending), grace)
