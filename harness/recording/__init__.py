"""Recorders of both sides of the wire: what the backend sent, what the page's EventSource dispatched."""

from harness.recording._collector import (
    EvidenceCollector,
)
from harness.recording._page import (
    EventSourceRecorder,
    PageObserver,
    build_eventsource_log,
    read_page_messages,
)
from harness.recording._page_text import (
    PageText,
    PageTextRecorder,
)
from harness.recording._wire import (
    WireLog,
    WireRecorder,
)

__all__ = [
    "EventSourceRecorder",
    "EvidenceCollector",
    "PageObserver",
    "PageText",
    "PageTextRecorder",
    "WireLog",
    "WireRecorder",
    "build_eventsource_log",
    "read_page_messages",
]
