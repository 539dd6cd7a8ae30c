"""Waiting on a condition outside the page (server state), with a deadline and a clear failure.

Inside the page, Playwright's auto-waiting `expect` is the tool. Outside it (the backend's live-stream
count, the wire transcript) there is nothing to subscribe to over HTTP, so the condition is checked
in a loop; the loop ends the moment it holds, and fails with the last value seen when it never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 5.0
_CHECK_EVERY_S = 0.02


def wait_until(
    probe: Callable[[], T],
    condition: Callable[[T], bool],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str = "condition",
) -> T:
    """Return the first value of `probe()` that satisfies `condition`, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if condition(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s; last value: {value!r}")
        time.sleep(_CHECK_EVERY_S)
