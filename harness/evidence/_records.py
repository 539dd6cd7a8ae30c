"""The records of one test, on both sides of the wire, as plain JSON-serialisable dataclasses.

One clock for everything: every `t` is wall-clock seconds since the epoch, `time.time()` in Python
and `(performance.timeOrigin + performance.now()) / 1000` in the page (Date.now()'s epoch, to 0.1 ms
rather than whole milliseconds). Backend, browser and test run on the same machine, so a frame's
send time and the page's dispatch time of that frame can be subtracted directly (a monotonic clock
would be more robust to clock steps, but the page cannot read Python's monotonic clock).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

FrameKind = Literal["event", "comment", "retry", "dataless", "unterminated"]
StreamEnd = Literal["server", "client_disconnect", "error"]

EVENT_STREAM = "text/event-stream"


def iso(t: float) -> str:
    """A `t` as an ISO-8601 UTC timestamp with milliseconds, for the human-readable files."""
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def path_of(url: str) -> str:
    """The path of a URL (or of a bare path), without query or fragment."""
    return urlsplit(url).path


def describe_sequence(names: Iterable[str]) -> str:
    """`started, progress x3, success, done`: consecutive repeats folded, order kept."""
    runs: list[list[Any]] = []
    for name in names:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    return ", ".join(name if count == 1 else f"{name} x{count}" for name, count in runs)


# --- Server side: what the backend sent --------------------------------------------------------


@dataclass(frozen=True)
class WireFrame:
    """One thing the backend put on a stream, timestamped when the body chunk was handed to the server.

    kind "event": a frame a browser dispatches (`event` is its type, "message" when unnamed);
    "comment": a comment line such as a heartbeat (`data` holds the text after the colon);
    "retry": a valid `retry:` field (`retry_ms`); "dataless": a named block without a data line,
    which browsers never dispatch; "unterminated": text left at end of stream without its blank line.
    """

    t: float
    kind: FrameKind
    event: str = ""
    data: str | None = None
    id: str = ""
    retry_ms: int | None = None

    def payload(self) -> Any:
        """The frame's data decoded as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.data or "")
        except ValueError:
            return None


@dataclass
class WireStream:
    """One response to a stream request (or any `text/event-stream` response), as the server sent it."""

    stream_id: int
    method: str
    path: str
    query: str
    opened_at: float
    origin: str | None = None  # request Origin header: present on cross-origin EventSource requests
    host: str | None = None
    accept: str = ""
    last_event_id_header: str | None = None  # sent by EventSource when it reconnects after an id
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_started_at: float | None = None
    closed_at: float | None = None
    frames: list[WireFrame] = field(default_factory=list)
    bytes_sent: int = 0
    ended_by: StreamEnd | None = None  # None while the response is still open
    error: str = ""
    body_excerpt: str = ""  # the first bytes, to show what a non-event-stream answer said

    @property
    def content_type(self) -> str:
        return self.response_headers.get("content-type", "")

    @property
    def is_event_stream(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == EVENT_STREAM

    @property
    def events(self) -> list[WireFrame]:
        return [frame for frame in self.frames if frame.kind == "event"]

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def describe(self) -> str:
        state = f"ended by {self.ended_by}" if self.ended_by else "still open"
        return (
            f"#{self.stream_id} {self.method} {self.target} -> {self.status} {self.content_type or '(no type)'}, "
            f"{len(self.events)} events [{describe_sequence(f.event for f in self.events)}], {state}"
        )


@dataclass
class HttpExchange:
    """A non-stream request the backend answered."""

    exchange_id: int
    method: str
    path: str
    query: str
    t: float
    status: int | None = None
    content_type: str = ""
    origin: str | None = None
    host: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    t_end: float | None = None
    body_excerpt: str = ""

    def describe(self) -> str:
        target = f"{self.path}?{self.query}" if self.query else self.path
        return f"{self.method} {target} -> {self.status}"


# --- Page side: what the browser did ------------------------------------------------------------


@dataclass
class PageEventSource:
    """One `new EventSource(...)` in the page and how the page listened to it."""

    source_id: str  # unique across documents: "<document id>:<n>"
    url: str  # as passed to the constructor
    resolved_url: str
    page_url: str
    t: float
    with_credentials: bool = False
    listener_types: list[str] = field(default_factory=list)  # addEventListener types, first-use order
    handler_properties: list[str] = field(default_factory=list)  # on* properties holding a function
    # Types whose dispatches the recorder saw even without a page listener (open/message/error and
    # the protocol's names): an event of another type that reached no listener left no trace.
    observed_types: list[str] = field(default_factory=list)

    def listened_types(self) -> dict[str, list[str]]:
        """Event type -> how the page listens for it (`addEventListener`, `onmessage`, ...)."""
        listened: dict[str, list[str]] = {}
        for type_ in self.listener_types:
            listened.setdefault(type_, []).append("addEventListener")
        for prop in self.handler_properties:
            listened.setdefault(prop.removeprefix("on"), []).append(prop)
        return listened


@dataclass(frozen=True)
class PageDispatch:
    """An event the EventSource dispatched in the page, and how many page listeners it reached.

    `data` is None for a plain `Event` (the transport `error`, `open`); a server `event: error`
    arrives as a `MessageEvent` with data. `listeners_called` counts the page's own listeners and
    on* handler, not the recorder's. `ready_state` is read when the dispatch starts: 0 on an
    `error` means EventSource will reconnect, 2 means it gave up.
    """

    source_id: str
    type: str
    t: float
    data: str | None = None
    message_event: bool = False
    trusted: bool = True
    ready_state: int | None = None
    last_event_id: str | None = None
    listeners_called: int = 0

    def payload(self) -> Any:
        """The dispatched data decoded as JSON, or None when it is not JSON (or there is none)."""
        try:
            return json.loads(self.data or "")
        except ValueError:
            return None


@dataclass(frozen=True)
class PageClose:
    source_id: str
    t: float
    ready_state_before: int | None = None


@dataclass
class PageEventSourceLog:
    sources: list[PageEventSource] = field(default_factory=list)
    dispatches: list[PageDispatch] = field(default_factory=list)
    closes: list[PageClose] = field(default_factory=list)

    def listened_types(self) -> dict[str, list[str]]:
        """Union over every EventSource of `PageEventSource.listened_types`."""
        listened: dict[str, list[str]] = {}
        for source in self.sources:
            for type_, ways in source.listened_types().items():
                known = listened.setdefault(type_, [])
                known.extend(way for way in ways if way not in known)
        return listened

    def delivered(self) -> list[PageDispatch]:
        """Dispatches by the browser (not page code) that reached at least one page listener."""
        return [d for d in self.dispatches if d.trusted and d.listeners_called > 0]

    def message_dispatches(self) -> list[PageDispatch]:
        """Browser dispatches that carry a server frame (MessageEvents), delivered or not."""
        return [d for d in self.dispatches if d.trusted and d.message_event]


@dataclass(frozen=True)
class PageRequest:
    """A request the page made, from Playwright's request events."""

    url: str
    method: str
    resource_type: str
    t: float
    status: int | None = None
    failure: str | None = None
    content_type: str = ""
    t_response: float | None = None
    t_end: float | None = None


@dataclass(frozen=True)
class ConsoleEntry:
    """A console message, or an uncaught page exception with type "pageerror"."""

    type: str
    text: str
    t: float
    location: str = ""


@dataclass(frozen=True)
class Navigation:
    url: str
    t: float
