"""One SSE response, read as it arrives, through the shared browser-faithful parser.

Read in the test thread on purpose: a test asserts that an event has arrived *before* it lets the
generation take its next step, which is what proves that nothing between backend and client buffers.
(A reader thread would also make disconnecting unreliable: closing a socket from another thread does
not wake a `recv()` blocked on it on Linux, so the server would never see the client go.)
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from drafts_api.protocol import STREAM_EVENTS
from harness.sse import (
    SSEComment,
    SSEDataless,
    SSEDecoder,
    SSEEvent,
    SSEObservation,
    SSERetry,
    SSEUnterminated,
)

DEFAULT_WAIT_S = 5.0


@dataclass(frozen=True)
class Received:
    """One parser observation and when the chunk that completed it was read (`time.monotonic()`)."""

    observation: SSEObservation
    at: float


def describe(observation: SSEObservation) -> str:
    match observation:
        case SSEEvent(data=data, type=name):
            return f"{name} {data}"
        case SSEComment(text=text):
            return f":{text}"
        case SSERetry(milliseconds=ms):
            return f"retry {ms}"
        case SSEDataless(type=name):
            return f"{name} WITHOUT DATA (a browser drops it)"
        case SSEUnterminated(text=text):
            return f"UNTERMINATED {text!r} (a browser drops it)"
    return repr(observation)


def payload_of(event: SSEEvent) -> dict[str, Any]:
    """The event's JSON data, checked against the protocol model of its name; AssertionError if not."""
    model = STREAM_EVENTS.get(event.type)
    assert model is not None, f"unknown event name {event.type!r} (protocol: {sorted(STREAM_EVENTS)}): {event.data!r}"
    # model_dump_json never emits a raw newline, so a newline here means several `data:` lines.
    assert "\n" not in event.data, f"`{event.type}` has more than one data line: {event.data!r}"
    try:
        model.model_validate_json(event.data)
    except ValidationError as exc:
        raise AssertionError(f"`{event.type}` data does not match {model.__name__}: {event.data!r}\n{exc}") from None
    payload: dict[str, Any] = json.loads(event.data)
    return payload


class EventStream:
    """Observations of one open stream response, handed out one at a time as their bytes arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks: Iterator[bytes] = response.iter_raw()
        self._decoder = SSEDecoder()
        self._ready: deque[Received] = deque()
        self.received: list[Received] = []
        self.ended = False

    def transcript(self) -> str:
        return "; ".join(describe(item.observation) for item in self.received) or "nothing"

    def next(self, timeout: float = DEFAULT_WAIT_S) -> Received | None:
        """The next observation (event, comment, retry...), or None once the response has ended."""
        return self._next_before(time.monotonic() + timeout, timeout)

    def _next_before(self, deadline: float, timeout: float) -> Received | None:
        while not self._ready:
            if self.ended:
                return None
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing arrived within {timeout} s; received so far: {self.transcript()}")
            self._read_chunk()
        item = self._ready.popleft()
        self.received.append(item)
        return item

    def _read_chunk(self) -> None:
        # Blocks for at most the client's read timeout; heartbeats keep a quiet stream within it.
        try:
            chunk: bytes | None = next(self._chunks)
        except StopIteration:
            chunk = None
        except httpx.ReadTimeout:
            raise AssertionError(f"no bytes within the read timeout; received so far: {self.transcript()}") from None
        except httpx.HTTPError as exc:
            raise AssertionError(f"the stream broke: {exc!r}; received so far: {self.transcript()}") from None
        now = time.monotonic()
        if chunk is None:
            self.ended = True
            observations = self._decoder.close()
        else:
            observations = self._decoder.feed(chunk)
        self._ready.extend(Received(observation, now) for observation in observations)

    def next_event(self, timeout: float = DEFAULT_WAIT_S) -> SSEEvent | None:
        """The next dispatched event, its data checked against the protocol; skips comments and `retry`.

        A frame a browser would drop (no data line, unterminated) fails the test right here, so does
        an event whose name or data is not the protocol's: every event a test reads is checked.
        """
        deadline = time.monotonic() + timeout
        while (item := self._next_before(deadline, timeout)) is not None:
            observation = item.observation
            assert not isinstance(observation, SSEDataless | SSEUnterminated), (
                f"a frame a browser drops: {describe(observation)}; received so far: {self.transcript()}"
            )
            if isinstance(observation, SSEEvent):
                payload_of(observation)
                return observation
        return None

    def expect(self, name: str, timeout: float = DEFAULT_WAIT_S) -> dict[str, Any]:
        """The next event must be `name` (with data valid for its protocol model); returns the data."""
        event = self.next_event(timeout)
        assert event is not None, f"the stream ended while `{name}` was expected; received: {self.transcript()}"
        assert event.type == name, f"expected `{name}`, got `{event.type}` {event.data}; received: {self.transcript()}"
        return payload_of(event)

    def expect_end(self, timeout: float = DEFAULT_WAIT_S) -> None:
        """The response must end cleanly now, with no further events (comments are tolerated)."""
        deadline = time.monotonic() + timeout
        while (item := self._next_before(deadline, timeout)) is not None:
            assert not isinstance(item.observation, SSEEvent | SSEDataless | SSEUnterminated), (
                f"more after the end of the protocol: {describe(item.observation)}; received: {self.transcript()}"
            )

    def observations(self) -> list[SSEObservation]:
        return [item.observation for item in self.received]
