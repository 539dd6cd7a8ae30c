"""The one background-loop helper (live server, fault proxy, generation worker) and the waitable
record behind the proxy's request log. Each test names the broken lifecycle it catches."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette

from harness.servers import BackgroundLoop, BackgroundLoopError, LiveServer, LiveServerError
from harness.waiting import Watched

WAIT_S = 3.0


def loop_threads(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == name]


def test_run_and_submit_use_the_loop_thread() -> None:
    """Fails for a helper whose coroutines run anywhere but its own thread, or whose start() returns
    before the loop runs."""
    with BackgroundLoop("test-loop-run") as loop:

        async def where() -> str:
            return threading.current_thread().name

        assert loop.run(where(), WAIT_S) == "test-loop-run"
        assert loop.submit(where()).result(WAIT_S) == "test-loop-run"
    assert loop_threads("test-loop-run") == []


def test_a_coroutine_that_does_not_finish_is_cancelled_and_named() -> None:
    """Fails for a `run` that waits forever, or whose error does not say what did not finish."""
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    with BackgroundLoop("test-loop-timeout") as loop:
        with pytest.raises(
            BackgroundLoopError, match=r"the slow part did not finish within 0.1 s on 'test-loop-timeout'"
        ):
            loop.run(forever(), 0.1, what="the slow part")
        assert cancelled.wait(WAIT_S)


def test_stop_cancels_what_is_left_and_is_bounded_even_when_a_task_ignores_it() -> None:
    """Fails for a stop() that waits for open work (a stream, a held generation) to end by itself."""
    stubborn_started = threading.Event()

    async def stubborn() -> None:
        stubborn_started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # ignores the first cancellation, as a badly written handler would
        await asyncio.sleep(10)

    loop = BackgroundLoop("test-loop-stop").start()
    loop.submit(stubborn())
    assert stubborn_started.wait(WAIT_S)
    started = time.monotonic()
    loop.stop(timeout=0.4)
    assert time.monotonic() - started < 1.0
    assert loop_threads("test-loop-stop") == []
    assert not loop.is_running


def test_stop_reports_a_loop_thread_that_is_blocked() -> None:
    """Fails for a stop() that hangs on a loop whose thread is blocked, or returns as if it stopped."""
    blocked = threading.Event()
    release = threading.Event()

    async def blocking() -> None:
        blocked.set()
        release.wait(WAIT_S)  # blocks the loop's thread: no await

    loop = BackgroundLoop("test-loop-blocked").start()
    loop.submit(blocking())
    assert blocked.wait(WAIT_S)
    try:
        with pytest.raises(BackgroundLoopError, match="'test-loop-blocked' did not stop within 0.2 s"):
            loop.stop(timeout=0.2)
    finally:
        release.set()
    loop.stop()  # the thread is free again: this finishes the stop
    assert loop_threads("test-loop-blocked") == []


def test_submit_to_a_stopped_loop_fails_clearly_without_a_never_awaited_warning() -> None:
    async def nothing() -> None:
        return None

    loop = BackgroundLoop("test-loop-stopped")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail here
        with pytest.raises(BackgroundLoopError, match="'test-loop-stopped' is not running"):
            loop.submit(nothing())
    with pytest.raises(BackgroundLoopError, match="has not been started"):
        _ = loop.loop


def test_live_server_start_failure_says_why_and_leaves_no_thread() -> None:
    """Fails for a live server that reports a failed start-up without uvicorn's reason, hangs on
    it (uvicorn exits the process there; on a shared loop that would end the loop), or leaves its
    loop thread running."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise RuntimeError("database exploded at start-up")
        yield

    server = LiveServer(Starlette(lifespan=lifespan), lifespan="on")
    started = time.monotonic()
    with pytest.raises(LiveServerError, match="did not start: .*database exploded at start-up"):
        server.start()
    assert time.monotonic() - started < WAIT_S
    assert loop_threads(f"live-server:{server.port}") == []
    assert not server.is_running


def test_live_server_restarts_on_its_port() -> None:
    """Fails for a lifecycle that cannot start again after stop (a backend restart mid-test)."""
    import httpx

    with LiveServer(Starlette()) as server:
        port = server.port
        assert httpx.get(server.url + "/missing").status_code == 404
        server.restart()
        assert server.port == port and server.is_running
        assert httpx.get(server.url + "/missing").status_code == 404
    assert not server.is_running
    assert loop_threads(f"live-server:{port}") == []


def test_watched_wakes_a_waiter_on_update_and_times_out_with_none() -> None:
    """Fails for a waitable record that polls late, misses an update, or raises instead of None."""
    watched: Watched[tuple[int, ...]] = Watched(())
    assert watched.wait_until(lambda value: len(value) > 0, 0.05) is None

    def add_later() -> None:
        for number in range(3):
            watched.update(lambda value, number=number: (*value, number))  # type: ignore[misc]

    writer = threading.Thread(target=add_later)
    writer.start()
    assert watched.wait_until(lambda value: len(value) == 3, WAIT_S) == (0, 1, 2)
    writer.join(WAIT_S)
    assert watched.get() == (0, 1, 2)
