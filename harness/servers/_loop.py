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
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

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
        self._closing = False  # the loop's thread is cleaning up: late stop callbacks do nothing
        self._grace = STOP_TIMEOUT_S / 2  # how long cancelled tasks get to finish

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
        self._closing = False
        thread = threading.Thread(target=self._run, args=(loop,), name=self.name, daemon=True)
        thread.start()
        if not running.wait(timeout):
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            raise BackgroundLoopError(f"the background loop {self.name!r} did not start within {timeout} s")
        self._loop, self._thread = loop, thread
        return self

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # What asyncio.run does after its main coroutine, here on the loop's own thread (the
            # caller's thread may run a loop of its own, e.g. Playwright's sync API): cancel what
            # is left, bounded, so nothing is pending on close.
            self._closing = True
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=self._grace))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

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
        """Cancels the tasks still on the loop, stops it and joins the thread, within `timeout`.

        When the thread does not end in time (a coroutine blocks it), this raises and leaves the
        loop as it is; calling `stop()` again once the thread is free finishes the job.
        """
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._grace = timeout / 3  # cancelled tasks get this twice: on the loop, then at clean-up
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
                loop.call_soon_threadsafe(self._cancel_then_stop, loop, self._grace)
            thread.join(timeout)
        if thread.is_alive():
            raise BackgroundLoopError(f"the background loop {self.name!r} did not stop within {timeout} s")
        self._loop = self._thread = None

    def _cancel_then_stop(self, loop: asyncio.AbstractEventLoop, grace: float) -> None:
        """On the loop: cancel every task, stop once they are done or after `grace` s.

        A plain callback, not a coroutine: two stop() calls (one finding the thread blocked, then
        another) must not cancel each other, and the clean-up after `run_forever` runs the loop
        again without being stopped by a late callback (hence the `_closing` checks).
        """
        if self._closing:
            return
        tasks = asyncio.all_tasks(loop)
        if not tasks:
            loop.stop()
            return
        remaining = set(tasks)

        def finished(task: asyncio.Task[Any]) -> None:
            remaining.discard(task)
            if not remaining:
                self._stop_while_running(loop)

        for task in tasks:
            task.cancel()
            task.add_done_callback(finished)
        loop.call_later(grace, self._stop_while_running, loop)

    def _stop_while_running(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._closing:
            loop.stop()

    def __enter__(self) -> BackgroundLoop:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<BackgroundLoop {self.name!r} {'running' if self.is_running else 'stopped'}>"
