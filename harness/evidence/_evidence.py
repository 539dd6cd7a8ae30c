"""The whole record of one test (`Evidence`), and its JSON form with a schema version checked on load.

Serialisation goes through pydantic's `TypeAdapter`, which handles nested dataclasses both ways, so
a saved `evidence.json` loads back into the same objects for an offline re-diagnosis. The schema
version is bumped whenever a field changes meaning or disappears; a file of another version is
refused with both versions named, rather than loaded into objects that silently mean something else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from harness.evidence._records import (
    ConsoleEntry,
    HttpExchange,
    Navigation,
    PageEventSourceLog,
    PageRequest,
    WireFrame,
    WireStream,
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
