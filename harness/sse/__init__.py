"""A browser-faithful `text/event-stream` parser (the WHATWG algorithm, byte by byte)."""

from harness.sse._parser import (
    SSEComment,
    SSEDataless,
    SSEDecoder,
    SSEEvent,
    SSELineSplitter,
    SSEObservation,
    SSERetry,
    SSEUnterminated,
)

__all__ = [
    "SSEComment",
    "SSEDataless",
    "SSEDecoder",
    "SSEEvent",
    "SSELineSplitter",
    "SSEObservation",
    "SSERetry",
    "SSEUnterminated",
]
