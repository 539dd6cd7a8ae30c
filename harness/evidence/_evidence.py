"""The whole record of one test (`Evidence`), and its JSON form with a schema version checked on load.

Serialisation goes through pydantic's `TypeAdapter`, which handles nested dataclasses both ways, so
a saved `evidence.json` loads back into the same objects for an offline re-diagnosis. The schema
version is bumped whenever a field changes meaning or disappears; a file of another version is
refused with both versions named, rather than loaded into objects that silently mean something else.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from harness.evidence._records import (
    ConsoleEntry,
    HttpExchange,
    Navigation,
    PageDispatch,
    PageEventSource,
    PageEventSourceLog,
    PageRequest,
    WireFrame,
    WireStream,
    path_of,
)

SCHEMA_VERSION = 2  # 1: the unversioned files before the schema field existed
EVIDENCE_FILE = "evidence.json"


class EvidenceSchemaError(ValueError):
    """An evidence file written by another version of the harness."""


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
    contract: str = "drafts_api"  # the name of the AppContract the test ran under
    schema_version: int = SCHEMA_VERSION

    # -- views used by the diagnosis and the report --

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

    # -- queries shared by the diagnosis rules --

    def event_streams(self) -> list[WireStream]:
        """The responses that are event streams (200 or not)."""
        return [s for s in self.streams if s.is_event_stream]

    def source_for(self, stream: WireStream) -> PageEventSource | None:
        """The page's EventSource that asked for `stream` (by path), if the recorder saw one."""
        return next((s for s in self.eventsource.sources if path_of(s.resolved_url) == stream.path), None)

    def closed_at(self, source: PageEventSource | None) -> float | None:
        """When the page first called close() on `source`."""
        if source is None:
            return None
        times = [c.t for c in self.eventsource.closes if c.source_id == source.source_id]
        return min(times) if times else None

    def left_page_at(self, source: PageEventSource) -> float | None:
        """When the page left the document that made `source` (a later main-frame navigation), if it did."""
        later = [navigation.t for navigation in self.navigations if navigation.t > source.t]
        return min(later) if later else None

    def connections_to(self, path: str) -> int:
        """Stream connections to `path`, counted on whichever side saw more of them."""
        page_side = sum(1 for r in self.stream_connections() if path_of(r.url) == path)
        wire_side = sum(1 for s in self.streams if s.path == path)
        return max(page_side, wire_side)

    def deliveries(self) -> Counter[tuple[str, str | None]]:
        """(type, data) of every server frame that reached a page listener, with multiplicity."""
        return Counter((d.type, d.data) for d in self.eventsource.delivered() if d.message_event)

    def received_types(self) -> list[str]:
        """Types of the server frames the page's listeners received, in order."""
        return [d.type for d in self.eventsource.delivered() if d.message_event]

    def sent_types(self) -> list[str]:
        """Types of the events the backend sent, in order, over every stream."""
        return [frame.event for _, frame in self.wire_events()]

    def pairs(self) -> list[tuple[WireFrame, PageDispatch]]:
        """Wire events matched in order to the page's dispatches of the same type and data."""
        remaining = list(self.eventsource.message_dispatches())
        pairs = []
        for _, frame in sorted(self.wire_events(), key=lambda sf: sf[1].t):
            for index, dispatch in enumerate(remaining):
                if dispatch.type == frame.event and dispatch.data == frame.data and dispatch.t >= frame.t - 0.05:
                    pairs.append((frame, remaining.pop(index)))
                    break
        return pairs

    def requests_after(self, t: float) -> list[tuple[str, int | None]]:
        """(url or path, status) of every navigation, page request and backend exchange from `t` on."""
        found: list[tuple[str, int | None]] = [(n.url, None) for n in self.navigations if n.t >= t]
        found += [(r.url, r.status) for r in self.page_requests if r.t >= t]
        found += [(e.path, e.status) for e in self.http_exchanges if e.t >= t]
        return found

    # -- serialisation --

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _ADAPTER.dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], *, source: str = "evidence") -> Evidence:
        """Evidence from its JSON form; `EvidenceSchemaError` when it was written under another schema."""
        version = data.get("schema_version", 1) if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise EvidenceSchemaError(
                f"{source} has evidence schema version {version!r}, this harness reads version {SCHEMA_VERSION}: "
                "re-record it (python -m e2e.mutants --record-samples) or load it with the harness that wrote it"
            )
        return _ADAPTER.validate_python(data)

    @classmethod
    def load(cls, path: Path | str) -> Evidence:
        """Read back `evidence.json` from a file or from the folder `save` wrote it into."""
        file = Path(path)
        if file.is_dir():
            file = file / EVIDENCE_FILE
        return cls.from_json(json.loads(file.read_text(encoding="utf-8")), source=str(file))

    def save(self, path: Path | str) -> Path:
        """Write `evidence.json` (into `path` when it is a folder or has no suffix) and return the file."""
        file = Path(path)
        if file.is_dir() or not file.suffix:
            file.mkdir(parents=True, exist_ok=True)
            file = file / EVIDENCE_FILE
        file.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return file


_ADAPTER: TypeAdapter[Evidence] = TypeAdapter(Evidence)
