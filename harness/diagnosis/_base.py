"""What every rule shares: the `Diagnosis` it returns, the `Rule` signature, thresholds and text helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from harness.contract import AppContract
from harness.evidence import Evidence, WireFrame, describe_sequence

# Thresholds, in seconds. Loopback delivers a frame in milliseconds: anything near these is not noise.
BUFFERED_LAG_S = 0.5  # a frame that reaches the page this late was held somewhere
STALLED_AGE_S = 1.0  # a frame sent this long before collection should have arrived
SAME_DISPATCH_S = 0.05  # a close() this soon after a dispatch was made by its listener
IDLE_GAP_S = 0.2  # silence before a client-side cut (with a reconnect after it) that points at an idle timeout

CONNECTION_LOST = re.compile(r"connection\s+(lost|failed|error|closed)|lost\s+(the\s+)?connection", re.I)


@dataclass(frozen=True)
class Diagnosis:
    rule: str  # the rule's name ("named_event_mismatch"), or "summary" when none matched
    line: str  # the one line for the report
    details: list[str] = field(default_factory=list)  # supporting facts, one per line


Rule = Callable[[Evidence, AppContract], Diagnosis | None]
"""A rule reads the evidence under the app's contract; it returns None when its class does not apply."""


def first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def quote(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def is_cross_origin(origin: str | None, host: str | None) -> bool:
    return bool(origin) and origin != "null" and urlsplit(origin or "").netloc != (host or "")


def kinds(frames: Iterable[WireFrame]) -> str:
    """`3 progress events`, `1 success event`, `4 events [started, progress x3]`."""
    names = [f.event for f in frames]
    plural = "s" if len(names) != 1 else ""
    if len(set(names)) == 1:
        return f"{len(names)} {names[0]} event{plural}"
    return f"{len(names)} events [{describe_sequence(names)}]"


def page_reaction(evidence: Evidence, detail: str | None) -> str:
    """How the page took a failed stream: the suffix of a stream diagnosis."""
    if not evidence.eventsource.sources:
        return ""
    alert, status = evidence.page_alert_text, evidence.page_status_text
    if not alert:
        return "; the page shows no error" + (f" (status {quote(status)})" if status else "")
    if detail and detail not in alert:
        return f"; the page shows {quote(alert)}, not the answer's detail"
    return f"; the page shows {quote(alert)}"


def listening_phrase(listened: dict[str, list[str]], relevant: Iterable[str]) -> str:
    """`only for 'message' (onmessage)`: the data-carrying types the page listens for, by mechanism."""
    relevant = set(relevant)
    by_way: dict[str, list[str]] = {}
    for type_, ways in listened.items():
        if type_ == "open" or (type_ == "error" and "error" not in relevant):
            continue
        by_way.setdefault("/".join(ways), []).append(f"'{type_}'")
    if not by_way:
        return "for no event type at all"
    return "only for " + " and ".join(f"{', '.join(types)} ({way})" for way, types in by_way.items())


def stream_header_hint(headers: dict[str, str]) -> str:
    if headers.get("x-accel-buffering", "").lower() != "no":
        return " (the response has no `X-Accel-Buffering: no`, so nginx-style proxies hold it)"
    return ""
