"""Fixtures shared by the tests without a browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.servers import BackgroundLoop


@pytest.fixture
def own_loop() -> Iterator[BackgroundLoop]:
    """An event loop in a thread of its own for a test's coroutines (`own_loop.run(coro, timeout)`).

    Not `asyncio.run`: a Playwright test run earlier on the same pytest-xdist worker leaves the sync
    API's event loop registered as running in the main thread, and `asyncio.run` (or `anyio.run`)
    refuses to start there, so such a test passed or failed by the order xdist handed tests out.
    """
    with BackgroundLoop("test's own loop") as loop:
        yield loop
