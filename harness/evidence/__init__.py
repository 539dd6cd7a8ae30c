"""The evidence of one test as plain data: the wire log, the page's EventSource record, requests, console."""

from harness.evidence._model import (
    EVENT_STREAM,
    ConsoleEntry,
    Evidence,
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
)

__all__ = [
    "ConsoleEntry",
    "EVENT_STREAM",
    "Evidence",
    "FrameKind",
    "HttpExchange",
    "Navigation",
    "PageClose",
    "PageDispatch",
    "PageEventSource",
    "PageEventSourceLog",
    "PageRequest",
    "StreamEnd",
    "WireFrame",
    "WireStream",
    "describe_sequence",
    "iso",
]
