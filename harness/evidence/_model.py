"""What the gate records about one test, on both sides of the wire, as plain JSON-serialisable dataclasses.

One clock for everything: every `t` is wall-clock seconds since the epoch, `time.time()` in Python
and `Date.now() / 1000` in the page. Backend, browser and test run on the same machine, so a frame's
send time and the page's dispatch time of that frame can be subtracted directly (a monotonic clock
would be more robust to clock steps, but the page cannot read Python's monotonic clock).

Serialisation goes through pydantic's `TypeAdapter`, which handles nested dataclasses both ways, so
a written `evidence.json` loads back into the same objects for an offline re-diagnosis.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

FrameKind = Literal["event", "comment", "retry", "dataless", "unterminated"]
StreamEnd = Literal["server", "client_disconnect", "error"]

EVENT_STREAM = "text/event-stream"


def iso(t: float) -> str:
    """A `t` as an ISO-8601 UTC timestamp with milliseconds, for the human-readable files."""
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


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


# --- The whole record ---------------------------------------------------------------------------


@dataclass
class Evidence:
    """Everything the gate knows about one test, as written next to its failure report."""

    test_id: str = ""
    failure_text: str = ""  # Playwright's assertion message, may be empty
    collected_at: float = 0.0
    streams: list[WireStream] = field(default_factory=list)
    http_exchanges: list[HttpExchange] = field(default_factory=list)
    eventsource: PageEventSourceLog = field(default_factory=PageEventSourceLog)
    page_requests: list[PageRequest] = field(default_factory=list)
    console: list[ConsoleEntry] = field(default_factory=list)
    navigations: list[Navigation] = field(default_factory=list)
    backend_log: list[str] = field(default_factory=list)
    # Filled by the harness when the test fails: what the page showed at that moment.
    page_url: str = ""
    page_status_text: str = ""
    page_alert_text: str = ""

    # -- views used by the diagnosis and the summary --

    def stream_connections(self) -> list[PageRequest]:
        """Every stream request the page made, reconnects included."""
        return [r for r in self.page_requests if r.resource_type == "eventsource"]

    def wire_events(self) -> Iterator[tuple[WireStream, WireFrame]]:
        for stream in self.streams:
            for frame in stream.events:
                yield stream, frame

    def page_errors(self) -> list[ConsoleEntry]:
        return [entry for entry in self.console if entry.type == "pageerror"]

    def console_errors(self) -> list[ConsoleEntry]:
        return [entry for entry in self.console if entry.type in ("error", "pageerror")]

    def page_shows(self) -> str:
        """The page's status and alert texts at failure time."""
        return "\n".join(t for t in (self.page_status_text, self.page_alert_text) if t)

    # -- serialisation --

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _ADAPTER.dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        return _ADAPTER.validate_python(data)

    @classmethod
    def load(cls, directory: Path | str) -> Evidence:
        """Read back the `evidence.json` written by `write`."""
        return cls.from_json(json.loads((Path(directory) / "evidence.json").read_text(encoding="utf-8")))

    def summary(self) -> str:
        """A few lines for the failure report: the diagnosis, then what each side saw."""
        from harness.diagnosis import diagnose  # the diagnosis reads Evidence: import here, not at the top

        sent = [frame.event for _, frame in self.wire_events()]
        received = [d.type for d in self.eventsource.delivered() if d.message_event]
        listened = ", ".join(f"{type_} ({'/'.join(ways)})" for type_, ways in self.eventsource.listened_types().items())
        lines = [
            f"diagnosis: {diagnose(self).line}",
            f"backend sent [{describe_sequence(sent)}] on {len(self.streams)} stream response(s)",
            f"page listened for [{listened}]; its listeners received [{describe_sequence(received)}]; "
            f"{len(self.stream_connections())} stream connection(s)",
        ]
        errors = self.console_errors()
        if errors:
            lines.append(f"console: {len(errors)} error(s), last: {errors[-1].text[:200]}")
        return "\n".join(lines)

    def write(self, directory: Path | str) -> Path:
        """Write the evidence files into `directory` (created if needed) and return it."""
        from harness.diagnosis import diagnose  # see summary()

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        data = self.to_json()

        with (out / "wire.jsonl").open("w", encoding="utf-8") as wire:
            for stream in self.streams:
                for frame in stream.frames:
                    row = {"stream": stream.stream_id, "path": stream.path, "wall": iso(frame.t)}
                    row.update(_ADAPTER_FRAME.dump_python(frame, mode="json"))
                    wire.write(json.dumps(row, ensure_ascii=False) + "\n")
        streams = [
            {**{k: v for k, v in s.items() if k != "frames"}, "frame_count": len(s["frames"])} for s in data["streams"]
        ]
        _write_json(out / "streams.json", {"streams": streams, "http_exchanges": data["http_exchanges"]})
        _write_json(out / "page-eventsource.json", data["eventsource"])
        _write_json(out / "requests.json", {"page_requests": data["page_requests"], "navigations": data["navigations"]})
        (out / "console.log").write_text(
            "".join(
                f"{iso(e.t)} [{e.type}] {e.text}{f'  ({e.location})' if e.location else ''}\n" for e in self.console
            ),
            encoding="utf-8",
        )
        (out / "backend.log").write_text("".join(line.rstrip("\n") + "\n" for line in self.backend_log), "utf-8")
        diagnosis = diagnose(self)
        (out / "diagnosis.txt").write_text(
            "\n".join([f"[{diagnosis.rule}] {diagnosis.line}", *(f"  - {d}" for d in diagnosis.details)]) + "\n",
            encoding="utf-8",
        )
        _write_json(out / "evidence.json", data)
        return out


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


_ADAPTER: TypeAdapter[Evidence] = TypeAdapter(Evidence)
_ADAPTER_FRAME: TypeAdapter[WireFrame] = TypeAdapter(WireFrame)
