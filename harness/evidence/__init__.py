"""The evidence of one test as plain data: the wire log, the page's EventSource record, requests, console."""

from harness.evidence._evidence import EVIDENCE_FILE, SCHEMA_VERSION, Evidence, EvidenceSchemaError
from harness.evidence._records import (
    EVENT_STREAM,
    ConsoleEntry,
    FrameKind,
    HttpExchange,
    Navigation,
    PageClose,
    PageDispatch,
    PageEventSource,
    PageEventSourceLog,
    PageRequest,
    StreamEnd,
    WireFrame,
    WireStream,
    describe_sequence,
    iso,
    path_of,
)

__all__ = [
    "ConsoleEntry",
    "EVENT_STREAM",
    "EVIDENCE_FILE",
    "Evidence",
    "EvidenceSchemaError",
    "FrameKind",
    "HttpExchange",
    "Navigation",
    "PageClose",
    "PageDispatch",
    "PageEventSource",
    "PageEventSourceLog",
    "PageRequest",
    "SCHEMA_VERSION",
    "StreamEnd",
    "WireFrame",
    "WireStream",
    "describe_sequence",
    "iso",
    "path_of",
]
