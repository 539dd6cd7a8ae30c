"""Waiting on a condition outside the page (server state), with a deadline and a clear failure.

A record the harness writes itself is a `Watched` value: waiting on it is a condition variable, not a loop.

Inside the page, Playwright's auto-waiting `expect` is the tool. Outside it (the backend's live-stream
count, the wire transcript) there is nothing to subscribe to over HTTP, so the condition is checked
in a loop; the loop ends the moment it holds, and fails with the last value seen when it never does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

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


class Watched(Generic[T]):
    """A value shared between threads that a thread can wait on: every `update` wakes the waiters.

    The one waitable record behind the harness's logs (the fault proxy's request log): the writer
    replaces the value under the lock, readers get it whole, and `wait_until` needs no polling loop.
    Keep `T` immutable (a tuple of frozen records), so a value handed out cannot change under its reader.
    """

    def __init__(self, value: T) -> None:
        self._changed = threading.Condition()
        self._value = value

    def get(self) -> T:
        with self._changed:
            return self._value

    def update(self, change: Callable[[T], T]) -> T:
        """Replaces the value with `change(value)` atomically and wakes every waiter; returns the new value."""
        with self._changed:
            self._value = change(self._value)
            self._changed.notify_all()
            return self._value

    def wait_until(self, condition: Callable[[T], bool], timeout: float) -> T | None:
        """The first value that satisfies `condition`, or None when none did within `timeout` s."""
        with self._changed:
            if self._changed.wait_for(lambda: condition(self._value), timeout):
                return self._value
            return None
