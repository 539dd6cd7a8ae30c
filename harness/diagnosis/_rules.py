"""One line that explains a failed SSE test, from the evidence of both sides of the wire.

`diagnose(evidence)` runs the rules in order; the first that matches wins, so the more specific and
the more causal rules come first (a CORS block also makes EventSource fail; a page that ignores named
events also reconnects after the end). Each rule is a small function that returns a `Diagnosis` or
None, names the numbers it saw, and must stay silent on the evidence of a healthy run. When no rule
matches, the line is a plain summary of what each side saw.

A rule that crashes on unexpected evidence is skipped and noted in the details: the diagnosis is
an aid to reading a failure and must never hide the failure behind a traceback of its own.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from drafts_api.protocol import STREAM_EVENTS, TERMINAL_EVENTS, generate_path, stream_path
from harness.evidence import (
    Evidence,
    HttpExchange,
    PageDispatch,
    PageEventSource,
    PageRequest,
    WireFrame,
    WireStream,
    describe_sequence,
)

# Thresholds, in seconds. Loopback delivers a frame in milliseconds: anything near these is not noise.
BUFFERED_LAG_S = 0.5  # a frame that reaches the page this late was held somewhere
STALLED_AGE_S = 1.0  # a frame sent this long before collection should have arrived
SAME_DISPATCH_S = 0.05  # a close() this soon after a dispatch was made by its listener
IDLE_GAP_S = 0.2  # silence before a client-side cut (with a reconnect after it) that points at an idle timeout

_CONNECTION_LOST = re.compile(r"connection\s+(lost|failed|error|closed)|lost\s+(the\s+)?connection", re.I)
_BAD_ID_SEGMENTS = frozenset({"undefined", "null", "nan", "[object object]", ""})
_MAX_DETAIL_STREAMS = 8


@dataclass(frozen=True)
class Diagnosis:
    rule: str  # the rule's name ("named_event_mismatch"), or "summary" when none matched
    line: str  # the one line for the report
    details: list[str] = field(default_factory=list)  # supporting facts, one per line


Rule = Callable[[Evidence], Diagnosis | None]


# --- Helpers over the evidence ---------------------------------------------------------------------


def _event_streams(evidence: Evidence) -> list[WireStream]:
    return [s for s in evidence.streams if s.is_event_stream]


def _payload(frame: WireFrame) -> Any:
    try:
        return json.loads(frame.data or "")
    except ValueError:
        return None


def _message_of(frame: WireFrame) -> str | None:
    payload = _payload(frame)
    message = payload.get("message") if isinstance(payload, dict) else None
    return message if isinstance(message, str) else None


def _draft_id_of(frame: WireFrame) -> str | None:
    payload = _payload(frame)
    draft = payload.get("draft") if isinstance(payload, dict) else None
    draft_id = draft.get("id") if isinstance(draft, dict) else None
    return draft_id if isinstance(draft_id, str) else None


def _json_detail(body: str) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    detail = payload.get("detail") if isinstance(payload, dict) else None
    return detail if isinstance(detail, str) else None


def _path_of(url: str) -> str:
    return urlsplit(url).path


def _is_cross_origin(origin: str | None, host: str | None) -> bool:
    return bool(origin) and origin != "null" and urlsplit(origin or "").netloc != (host or "")


def _allows_origin(headers: dict[str, str], origin: str, with_credentials: bool) -> bool:
    allowed = headers.get("access-control-allow-origin", "").strip()
    if with_credentials:
        return allowed == origin and headers.get("access-control-allow-credentials", "").lower() == "true"
    return allowed in ("*", origin)


def _listening_phrase(listened: dict[str, list[str]], relevant: Iterable[str]) -> str:
    """ "only for 'message' (onmessage)": the data-carrying types the page listens for, by mechanism."""
    relevant = set(relevant)
    by_way: dict[str, list[str]] = {}
    for type_, ways in listened.items():
        if type_ == "open" or (type_ == "error" and "error" not in relevant):
            continue
        by_way.setdefault("/".join(ways), []).append(f"'{type_}'")
    if not by_way:
        return "for no event type at all"
    return "only for " + " and ".join(f"{', '.join(types)} ({way})" for way, types in by_way.items())


def _deliveries(evidence: Evidence) -> Counter[tuple[str, str | None]]:
    return Counter((d.type, d.data) for d in evidence.eventsource.delivered() if d.message_event)


def _source_for(evidence: Evidence, stream: WireStream) -> PageEventSource | None:
    for source in evidence.eventsource.sources:
        if _path_of(source.resolved_url) == stream.path:
            return source
    return None


def _closed_at(evidence: Evidence, source: PageEventSource | None) -> float | None:
    if source is None:
        return None
    times = [c.t for c in evidence.eventsource.closes if c.source_id == source.source_id]
    return min(times) if times else None


def _connections_to(evidence: Evidence, path: str) -> int:
    page_side = sum(1 for r in evidence.stream_connections() if _path_of(r.url) == path)
    wire_side = sum(1 for s in evidence.streams if s.path == path)
    return max(page_side, wire_side)


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _quote(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# --- The rules, in order ----------------------------------------------------------------------------


def cors_blocked(evidence: Evidence) -> Diagnosis | None:
    """A cross-origin stream (or API call) without an Access-Control-Allow-Origin for the page's origin.

    The browser drops such a response and says so only in the console; EventSource just fails.
    """
    with_credentials = any(s.with_credentials for s in evidence.eventsource.sources)
    console = [c for c in evidence.console if "cors policy" in c.text.lower()]
    for stream in evidence.streams:
        if _is_cross_origin(stream.origin, stream.host) and stream.status is not None:
            if not _allows_origin(stream.response_headers, stream.origin or "", with_credentials):
                sent = stream.response_headers.get("access-control-allow-origin")
                credentials = " with credentials" if with_credentials else ""
                return Diagnosis(
                    "cors_blocked",
                    f"the stream response for {stream.path} has no Access-Control-Allow-Origin for the page origin "
                    f"{stream.origin}{credentials} (it sent {sent!r}): the browser blocks it and EventSource fails",
                    [f"console: {_first_line(c.text, 300)}" for c in console[:2]],
                )
    for exchange in evidence.http_exchanges:
        # No answer, or a 5xx (often from the error middleware outside CORS): the header is not the cause.
        status = exchange.status or 500
        if _is_cross_origin(exchange.origin, exchange.host) and status < 500:
            allowed = _allows_origin(exchange.response_headers, exchange.origin or "", with_credentials=False)
            if exchange.method != "OPTIONS" and not allowed:
                return Diagnosis(
                    "cors_blocked",
                    f"{exchange.method} {exchange.path} answered {exchange.status} without Access-Control-Allow-Origin "
                    f"for the page origin {exchange.origin}: the browser hides the answer from the page",
                    [f"console: {_first_line(c.text, 300)}" for c in console[:2]],
                )
            if exchange.method == "OPTIONS" and status >= 400:
                return Diagnosis(
                    "cors_blocked",
                    f"the CORS preflight OPTIONS {exchange.path} from {exchange.origin} was refused with "
                    f"{exchange.status} {_quote(exchange.body_excerpt, 80)}: the page's request was never sent",
                    [f"console: {_first_line(c.text, 300)}" for c in console[:2]],
                )
    if console:
        return Diagnosis(
            "cors_blocked", f"the browser blocked a cross-origin request: {_first_line(console[0].text, 300)}"
        )
    return None


def _page_reaction(evidence: Evidence, detail: str | None) -> str:
    """How the page took a failed stream: the suffix of a stream diagnosis."""
    if not evidence.eventsource.sources:
        return ""
    alert, status = evidence.page_alert_text, evidence.page_status_text
    if not alert:
        return "; the page shows no error" + (f" (status {_quote(status)})" if status else "")
    if detail and detail not in alert:
        return f"; the page shows {_quote(alert)}, not the answer's detail"
    return f"; the page shows {_quote(alert)}"


def stream_not_event_stream(evidence: Evidence) -> Diagnosis | None:
    """A stream request answered with a non-200 status or a type other than text/event-stream.

    EventSource then fails for good at once (no reconnect) and cannot read the body; the line says
    how the page took it.
    """
    candidates = [s for s in evidence.streams if s.status is not None and (s.status != 200 or not s.is_event_stream)]
    if candidates:
        stream = candidates[0]
        order = [s for s in evidence.streams if s.path == stream.path].index(stream) + 1
        nth = f" (connection {order} of {_connections_to(evidence, stream.path)})" if order > 1 else ""
        body = f" {_quote(stream.body_excerpt, 100)}" if stream.body_excerpt else ""
        seen = [r for r in evidence.stream_connections() if _path_of(r.url) == stream.path]
        if stream.ended_by is None and seen and all(r.status is None and not r.failure for r in seen):
            # Observed with Chromium 156: an open 200 text/plain answer is held while the browser
            # sniffs its type, until about 1 KB of body or the end (at once with `X-Content-Type-Options:
            # nosniff`); until then EventSource gets neither events nor an error.
            consequence = (
                "the browser has not even handed the response to EventSource yet (it holds an open answer "
                "of the wrong type while sniffing it), so the page gets neither events nor an error"
            )
        else:
            consequence = (
                "EventSource gives up at once on a non-200 or non-text/event-stream answer and cannot read its body"
            )
        return Diagnosis(
            "stream_not_event_stream",
            f"the stream request {stream.method} {stream.path}{nth} was answered {stream.status} "
            f"{stream.content_type or '(no content type)'}{body}: {consequence}"
            f"{_page_reaction(evidence, _json_detail(stream.body_excerpt))}",
        )
    for request in evidence.stream_connections():
        bad_type = request.content_type and not request.content_type.lower().startswith("text/event-stream")
        if request.status is not None and (request.status != 200 or bad_type):
            return Diagnosis(
                "stream_not_event_stream",
                f"the page's stream request {_path_of(request.url)} was answered {request.status} "
                f"{request.content_type or '(no content type)'} by something other than the backend (it logged no "
                f"such answer): EventSource gives up at once{_page_reaction(evidence, None)}",
            )
    return None


def _path_pattern(template: str) -> re.Pattern[str]:
    """A protocol path built with marker ids, turned into a regex with one group per id."""
    return re.compile("^" + re.escape(template).replace("CAMPAIGN", "([^/]+)").replace("TASK", "([^/]+)") + "$")


_STREAM_PATH = _path_pattern(stream_path("CAMPAIGN", "TASK"))
_GENERATE_PATH = _path_pattern(generate_path("CAMPAIGN"))


def _issued_tasks(evidence: Evidence) -> set[tuple[str, str]]:
    """(campaign, task) pairs the backend handed out in this test (202 answers to generate requests)."""
    issued = set()
    for exchange in evidence.http_exchanges:
        match = _GENERATE_PATH.match(exchange.path)
        if match and exchange.status == 202:
            try:
                task_id = json.loads(exchange.body_excerpt).get("task_id")
            except (ValueError, AttributeError):
                continue
            if isinstance(task_id, str):
                issued.add((match.group(1), task_id))
    return issued


def unknown_task_stream(evidence: Evidence) -> Diagnosis | None:
    """A 200 stream that carries nothing but an `error`, for a task this test never created (or again and
    again for one path): an unknown task should be a 404 before the stream starts.
    """
    issued = _issued_tasks(evidence)
    by_path: dict[str, list[WireStream]] = {}
    for stream in _event_streams(evidence):
        by_path.setdefault(stream.path, []).append(stream)
    for path, streams in by_path.items():
        error_only = [
            s
            for s in streams
            if s.status == 200
            and any(f.event == "error" for f in s.events)
            and all(f.event in ("error", "done") for f in s.events)
        ]
        if not error_only:
            continue
        match = _STREAM_PATH.match(path)
        unknown = bool(issued) and match is not None and (match.group(1), match.group(2)) not in issued
        looping = len(error_only) >= 2 and len(error_only) == len(streams)
        if not (unknown or looping):
            continue
        message = next((_message_of(f) for f in error_only[0].events if f.event == "error"), None)
        connections = _connections_to(evidence, path)
        what = (
            f"task {match.group(2)!r} of campaign {match.group(1)!r}, which this test never created,"
            if unknown and match
            else path
        )
        again = (
            f"; the page does not close() on it, so EventSource reconnected ({connections} stream connections)"
            if connections >= 2
            else ""
        )
        return Diagnosis(
            "unknown_task_stream",
            f"the backend answered the stream for {what} with 200 and only an `error` event ({_quote(message or '')}) "
            f"instead of a 404 before the stream starts{again}{_page_reaction(evidence, None)}",
        )
    return None


def stream_broke(evidence: Evidence) -> Diagnosis | None:
    """A stream response that died with an exception in the backend (not a shutdown)."""
    for stream in evidence.streams:
        if stream.ended_by == "error" and not stream.error.startswith("CancelledError"):
            return Diagnosis(
                "stream_broke",
                f"the stream {stream.path} broke in the backend after {len(stream.events)} events "
                f"[{describe_sequence(f.event for f in stream.events)}]: {_first_line(stream.error)}",
                [line for line in evidence.backend_log if "Traceback" in line or "ERROR" in line][:3],
            )
    return None


def event_without_data(evidence: Evidence) -> Diagnosis | None:
    """Named blocks without a `data:` line: browsers never dispatch them."""
    dataless = [f for s in evidence.streams for f in s.frames if f.kind == "dataless"]
    if not dataless:
        return None
    names = describe_sequence(f.event for f in dataless)
    return Diagnosis(
        "event_without_data",
        f"backend sent {len(dataless)} event(s) without a data line [{names}]: browsers never dispatch an event "
        "without data, so the page cannot see them",
    )


def unterminated_event(evidence: Evidence) -> Diagnosis | None:
    """The server ended a stream in the middle of an event: the browser drops the unterminated tail."""
    for stream in evidence.streams:
        for frame in stream.frames:
            if frame.kind == "unterminated" and stream.ended_by == "server":
                what = f"`{frame.event}` event" if frame.event else "last event"
                return Diagnosis(
                    "unterminated_event",
                    f"the stream {stream.path} ended inside its {what} ({_quote(frame.data or '', 80)} without the "
                    "blank line that ends it): browsers drop an unterminated final event",
                )
    return None


def payload_drift(evidence: Evidence) -> Diagnosis | None:
    """A frame whose name is not in the protocol, or whose data does not validate against its model."""
    for _, frame in evidence.wire_events():
        model = STREAM_EVENTS.get(frame.event)
        if model is None and frame.event == "message":
            return Diagnosis(
                "payload_drift",
                "backend sent events without an `event:` name (type 'message', data "
                f"{_quote(frame.data or '', 80)}): the protocol names every event ({', '.join(STREAM_EVENTS)}) "
                "and a page listening for those names never receives them",
            )
        if model is None:
            return Diagnosis(
                "payload_drift",
                f"backend sent event `{frame.event}`, which is not in the protocol "
                f"(known: {', '.join(STREAM_EVENTS)}); data {_quote(frame.data or '', 80)}",
            )
        try:
            model.model_validate_json(frame.data or "")
        except ValidationError as error:
            payload = _payload(frame)
            if payload is None:
                return Diagnosis(
                    "payload_drift",
                    f"backend sent `{frame.event}` with data that is not JSON: {_quote(frame.data or '', 100)}",
                )
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()[:3]
            )
            keys = ", ".join(payload) if isinstance(payload, dict) else type(payload).__name__
            return Diagnosis(
                "payload_drift",
                f"backend sent `{frame.event}` with data that does not match {model.__name__}: {problems}; "
                f"payload keys: {keys}",
            )
    return None


def _unheard_types(evidence: Evidence, streams: list[WireStream]) -> list[str]:
    """Event types that reached the page with no listener, or that the recorder could not observe and
    no listener was registered for while the page still held the stream.

    What follows a terminal event the page received (`done` after `success`) is left out: a page
    that acts on the terminal event has no use for it, and not closing is a different failure.
    """
    listened = evidence.eventsource.listened_types()
    terminal_seen = [d.t for d in evidence.eventsource.delivered() if d.type in TERMINAL_EVENTS]
    page_end = min(terminal_seen) if terminal_seen else float("inf")
    unheard = [d.type for d in evidence.eventsource.message_dispatches() if d.listeners_called == 0 and d.t <= page_end]
    for stream in streams:
        source = _source_for(evidence, stream)
        observed = set(source.observed_types) if source is not None else set()
        closed = _closed_at(evidence, source)
        wire_end = next((f.t for f in stream.events if f.event in TERMINAL_EVENTS), float("inf"))
        if not terminal_seen:
            wire_end = float("inf")
        unheard += [
            f.event
            for f in stream.events
            if f.event not in listened
            and f.event not in observed
            and (closed is None or f.t < closed)
            and f.t <= wire_end
        ]
    return list(dict.fromkeys(t for t in unheard if t not in listened))


def named_event_mismatch(evidence: Evidence) -> Diagnosis | None:
    """Events on the wire of types the page has no listener for (the production bug: onmessage only).

    Decided from the page's own dispatches where the recorder observed the type (the protocol's
    names): an event dispatched to 0 listeners. A `done` that arrives after the page closed its
    EventSource is never dispatched, so a healthy page that ignores `done` does not match.
    """
    if not evidence.eventsource.sources:
        return None
    streams = [s for s in _event_streams(evidence) if s.events]
    unheard = _unheard_types(evidence, streams)
    if not streams or not unheard:
        return None
    listened = evidence.eventsource.listened_types()
    sent_types = {f.event for s in streams for f in s.events}
    first = streams[0]
    delivered = sum((Counter((f.event, f.data) for f in first.events) & _deliveries(evidence)).values())
    named = "named events" if "message" not in sent_types else "events"
    # When the page hears none of the types the list of listened types says it all; otherwise name the gap.
    gap = "" if sent_types <= set(unheard) else f"; no listener for {', '.join(repr(t) for t in unheard)}"
    details = [f"event types that reached no page listener: {', '.join(unheard)}"]
    if len(streams) > 1:
        more = [f.event for s in streams[1:] for f in s.events]
        details.append(f"{len(streams) - 1} more stream response(s) sent [{describe_sequence(more)}]")
    return Diagnosis(
        "named_event_mismatch",
        f"backend sent {named} [{describe_sequence(f.event for f in first.events)}]; the page listens "
        f"{_listening_phrase(listened, sent_types)}: {delivered} of {len(first.events)} delivered{gap} "
        "(named-event mismatch)",
        details,
    )


def server_error_as_connection_lost(evidence: Evidence) -> Diagnosis | None:
    """The server sent `event: error` with a message, the page said the connection was lost instead.

    Both the server's event and EventSource's transport error arrive as `error`; only the server's is
    a MessageEvent with data.
    """
    # What the page showed; Playwright's failure text (its "Actual value") only when that was not read,
    # because the failure text also quotes the *expected* text.
    shown = evidence.page_shows() or evidence.failure_text
    if not _CONNECTION_LOST.search(shown):
        return None
    for _, frame in evidence.wire_events():
        message = _message_of(frame) if frame.event == "error" else None
        if message and message not in evidence.page_shows():
            as_message = [d for d in evidence.eventsource.dispatches if d.type == "error" and d.message_event]
            details = [
                f"the page dispatched the server's error as a MessageEvent to {d.listeners_called} listener(s)"
                for d in as_message[:1]
            ]
            visible = _CONNECTION_LOST.search(shown)
            return Diagnosis(
                "server_error_as_connection_lost",
                f"backend sent `event: error` with the message {_quote(message)}; the page showed "
                f"{_quote(_line_containing(shown, visible.group(0) if visible else ''))} instead: it treats the "
                "server's error event (a MessageEvent with data) as a lost connection",
                details,
            )
    return None


def gave_up_on_transport_error(evidence: Evidence) -> Diagnosis | None:
    """The connection dropped, EventSource was about to reconnect, and the page closed it at once.

    A transport `error` (a plain Event) with readyState CONNECTING means the browser retries by
    itself; closing in that very dispatch, on the first such error, turns a blip (a backend restart)
    into a failure. A page that gives up after its own timeout or after failed retries is not this.
    """
    log = evidence.eventsource
    for source in log.sources:
        transport_errors = [
            d
            for d in log.dispatches
            if d.source_id == source.source_id and d.type == "error" and not d.message_event and d.trusted
        ]
        first = transport_errors[0] if transport_errors else None
        if first is None or first.ready_state != 0 or first.listeners_called == 0:
            continue
        page_closed = _closed_at(evidence, source)
        if page_closed is None or not 0 <= page_closed - first.t <= SAME_DISPATCH_S:
            continue
        failures = [r.failure for r in evidence.stream_connections() if r.failure]
        why = f" ({failures[0]})" if failures else ""
        shown = f" and showed {_quote(evidence.page_alert_text)}" if evidence.page_alert_text else ""
        return Diagnosis(
            "gave_up_on_transport_error",
            f"the stream connection dropped{why} while EventSource was reconnecting (readyState CONNECTING), but "
            f"the page closed it at once{shown}: it gives up on a transport error instead of letting EventSource "
            "reconnect",
        )
    return None


def _line_containing(text: str, needle: str) -> str:
    return next((line.strip() for line in text.splitlines() if needle in line), needle)


def _bad_id_urls(evidence: Evidence, after: float) -> list[str]:
    urls = [n.url for n in evidence.navigations if n.t >= after]
    urls += [r.url for r in evidence.page_requests if r.t >= after]
    urls += [e.path for e in evidence.http_exchanges if e.t >= after]
    bad = []
    for url in urls:
        segments = [unquote(s).lower() for s in _path_of(url).split("/")[1:]]
        # A trailing empty segment is only suspicious right after a known collection ("/drafts/").
        if any(s in _BAD_ID_SEGMENTS - {""} for s in segments) or _path_of(url).endswith("/drafts/"):
            bad.append(url)
    return bad


def wrong_field(evidence: Evidence) -> Diagnosis | None:
    """After `success` the page went to a URL with `undefined`/`null` where the draft id belongs."""
    for _, frame in evidence.wire_events():
        if frame.event != "success":
            continue
        bad = _bad_id_urls(evidence, after=frame.t - 0.001)
        if bad:
            payload = _payload(frame)
            keys = ", ".join(payload) if isinstance(payload, dict) else "(not an object)"
            draft_id = _draft_id_of(frame)
            where = f" (draft.id is {draft_id!r})" if draft_id else ""
            return Diagnosis(
                "wrong_field",
                f"the page read the draft id from a field the success payload does not have: it went to "
                f"{_path_of(bad[0])}; payload keys: {keys}{where}",
            )
    return None


def success_before_saved(evidence: Evidence) -> Diagnosis | None:
    """`GET /v1/drafts/{id}` answered 404 right after `success` announced that draft."""
    for _, frame in evidence.wire_events():
        draft_id = _draft_id_of(frame) if frame.event == "success" else None
        if not draft_id:
            continue
        path = f"/v1/drafts/{draft_id}"
        lookups: list[HttpExchange | PageRequest] = [
            e for e in evidence.http_exchanges if e.path == path and e.t >= frame.t - 0.001
        ]
        lookups += [r for r in evidence.page_requests if _path_of(r.url) == path and r.t >= frame.t - 0.001]
        missing = [x for x in lookups if x.status == 404]
        if missing:
            delay = missing[0].t - frame.t
            return Diagnosis(
                "success_before_saved",
                f"GET {path} answered 404 {delay:.2f} s after the backend sent `success` for it: the draft was not "
                "saved before `success` was sent",
            )
    return None


def page_error(evidence: Evidence) -> Diagnosis | None:
    """An uncaught exception in the page: names the first."""
    errors = evidence.page_errors()
    if not errors:
        return None
    first = errors[0]
    where = f" at {first.location}" if first.location else ""
    count = f" (first of {len(errors)})" if len(errors) > 1 else ""
    return Diagnosis("page_error", f"uncaught error in the page: {_first_line(first.text)}{where}{count}")


def _pairs(evidence: Evidence) -> list[tuple[WireFrame, PageDispatch]]:
    """Wire events matched in order to the page's dispatches of the same type and data."""
    remaining = [d for d in evidence.eventsource.message_dispatches()]
    pairs = []
    for _, frame in sorted(evidence.wire_events(), key=lambda sf: sf[1].t):
        for index, dispatch in enumerate(remaining):
            if dispatch.type == frame.event and dispatch.data == frame.data and dispatch.t >= frame.t - 0.05:
                pairs.append((frame, remaining.pop(index)))
                break
    return pairs


def _kinds(frames: Iterable[WireFrame]) -> str:
    """ "3 progress events", "1 success event", "4 events [started, progress x3]"."""
    names = [f.event for f in frames]
    plural = "s" if len(names) != 1 else ""
    if len(set(names)) == 1:
        return f"{len(names)} {names[0]} event{plural}"
    return f"{len(names)} events [{describe_sequence(names)}]"


def buffered_stream(evidence: Evidence) -> Diagnosis | None:
    """Frames reached the page in one late burst, or are overdue on a stream the page still holds.

    Compares the backend's send times with the page's dispatch times (one clock, see evidence.py).
    """
    pairs = _pairs(evidence)
    late = [(f, d) for f, d in pairs if d.t - f.t >= BUFFERED_LAG_S]
    if len(late) >= 2:
        sent_span = late[-1][0].t - late[0][0].t
        seen_span = max(d.t for _, d in late) - min(d.t for _, d in late)
        if sent_span >= BUFFERED_LAG_S and seen_span <= sent_span / 4:
            lag = min(d.t for _, d in late) - late[0][0].t
            kinds = _kinds(f for f, _ in late)
            return Diagnosis(
                "buffered_stream",
                f"{kinds.split(' ', 1)[1]} reached the page in one burst {lag:.1f} s after the first was sent: "
                f"the stream is buffered between backend and browser{_buffering_hint(late[0][0], evidence)}",
                [f"sent over {sent_span:.2f} s, dispatched within {seen_span:.2f} s"],
            )
    matched = {id(f) for f, _ in pairs}
    for stream in _event_streams(evidence):
        source = _source_for(evidence, stream)
        if stream.ended_by is not None or source is None or _closed_at(evidence, source) is not None:
            continue
        if _left_page_at(evidence, source) is not None:
            continue  # the document that listened is gone: nothing could reach it (disconnect_not_noticed)
        observable = set(source.observed_types) | set(source.listened_types())
        overdue = [
            f
            for f in stream.events
            if id(f) not in matched and f.event in observable and evidence.collected_at - f.t >= STALLED_AGE_S
        ]
        if overdue:
            age = evidence.collected_at - overdue[0].t
            return Diagnosis(
                "buffered_stream",
                f"backend sent {_kinds(overdue)} on the open stream {stream.path} (the first {age:.1f} s before "
                f"the failure) but none reached the page: the stream is buffered between backend and browser"
                f"{_stream_header_hint(stream)}",
            )
    for stream in _event_streams(evidence):
        age = evidence.collected_at - (stream.response_started_at or stream.opened_at)
        if stream.ended_by is None and stream.status == 200 and stream.bytes_sent == 0 and age >= STALLED_AGE_S:
            return Diagnosis(
                "buffered_stream",
                f"the stream {stream.path} has been open {age:.1f} s and not one byte of its body has left the "
                "backend: the response is held back inside the backend (a buffering middleware or a "
                "generator that never yields)",
            )
    return None


def _left_page_at(evidence: Evidence, source: PageEventSource) -> float | None:
    """When the page left the document that made `source` (a later main-frame navigation), if it did."""
    later = [navigation.t for navigation in evidence.navigations if navigation.t > source.t]
    return min(later) if later else None


def disconnect_not_noticed(evidence: Evidence) -> Diagnosis | None:
    """The page closed its EventSource or left, and the backend still holds that stream open."""
    for stream in _event_streams(evidence):
        source = _source_for(evidence, stream)
        if stream.ended_by is not None or source is None:
            continue
        gone = [t for t in (_closed_at(evidence, source), _left_page_at(evidence, source)) if t is not None]
        if not gone:
            continue
        age = evidence.collected_at - min(gone)
        if age >= STALLED_AGE_S:
            how = "closed its EventSource" if _closed_at(evidence, source) == min(gone) else "left the page"
            return Diagnosis(
                "disconnect_not_noticed",
                f"the page {how} {age:.1f} s before the failure, but the backend still holds the stream "
                f"{stream.path} open: it has not noticed that the client disconnected, so it keeps polling "
                "for nobody (a leak)",
            )
    return None


def _stream_header_hint(stream: WireStream) -> str:
    if stream.response_headers.get("x-accel-buffering", "").lower() != "no":
        return " (the response has no `X-Accel-Buffering: no`, so nginx-style proxies hold it)"
    return ""


def _buffering_hint(frame: WireFrame, evidence: Evidence) -> str:
    stream = next((s for s in evidence.streams if frame in s.frames), None)
    return _stream_header_hint(stream) if stream is not None else ""


def compressed_stream(evidence: Evidence) -> Diagnosis | None:
    """The stream response is compressed: a compressor releases bytes in blocks, not per event."""
    for stream in _event_streams(evidence):
        encoding = stream.response_headers.get("content-encoding", "")
        if encoding and encoding.lower() != "identity":
            return Diagnosis(
                "compressed_stream",
                f"the stream response for {stream.path} is compressed (Content-Encoding: {encoding}): the "
                f"compressor holds events back until it flushes a block, so the page gets them late or all at "
                f"once ({stream.bytes_sent} compressed bytes sent so far)",
            )
    return None


def stream_headers_missing(evidence: Evidence) -> Diagnosis | None:
    """The stream lacks the headers that keep proxies and caches from holding it (latent: fine on loopback)."""
    required = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    for stream in _event_streams(evidence):
        missing = [
            f"{name}: {value}"
            for name, value in required.items()
            if value not in stream.response_headers.get(name, "").lower()
        ]
        if missing:
            return Diagnosis(
                "stream_headers_missing",
                f"the stream response for {stream.path} lacks {' and '.join(missing)}: reverse proxies and caches "
                "may buffer or store it (sent: "
                + ", ".join(f"{k}: {stream.response_headers[k]}" for k in required if k in stream.response_headers)
                + ")",
            )
    return None


def status_not_rendered(evidence: Evidence) -> Diagnosis | None:
    """The page's listener received a status message but the page shows an older one.

    Only when nothing came after it (no terminal event, no navigation) that would replace the status.
    """
    status_types = {name for name, model in STREAM_EVENTS.items() if model.__name__ == "StatusEvent"}
    delivered = [d for d in evidence.eventsource.delivered() if d.message_event]
    if not delivered or not evidence.page_status_text or delivered[-1].type not in status_types:
        return None
    last = delivered[-1]
    if any(n.t > last.t for n in evidence.navigations):
        return None
    try:
        message = json.loads(last.data or "").get("message")
    except (ValueError, AttributeError):
        return None
    if not isinstance(message, str) or message in evidence.page_shows():
        return None
    return Diagnosis(
        "status_not_rendered",
        f"the page's listener received `{last.type}` {_quote(message)} but the page still shows "
        f"{_quote(evidence.page_status_text)}: it does not render every status it receives",
    )


def idle_cut(evidence: Evidence) -> Diagnosis | None:
    """A quiet stream cut from the client side while the page still wanted it; the page reconnected."""
    for stream in _event_streams(evidence):
        if stream.ended_by != "client_disconnect" or stream.closed_at is None:
            continue
        source = _source_for(evidence, stream)
        page_closed = _closed_at(evidence, source)
        if page_closed is not None and page_closed <= stream.closed_at:
            continue
        reconnects = [s for s in evidence.streams if s.path == stream.path and s.opened_at > stream.closed_at]
        if not reconnects:
            continue
        last_byte = max([f.t for f in stream.frames] or [stream.response_started_at or stream.opened_at])
        gap = stream.closed_at - last_byte
        if gap < IDLE_GAP_S:
            continue
        heartbeats = sum(1 for f in stream.frames if f.kind == "comment")
        why = (
            "no heartbeat comments on the wire"
            if heartbeats == 0
            else f"{heartbeats} heartbeat(s) sent, but none in the last {gap:.1f} s"
        )
        return Diagnosis(
            "idle_cut",
            f"the stream {stream.path} was cut from the client side after {gap:.1f} s without a byte and the page "
            f"reconnected ({_connections_to(evidence, stream.path)} stream connections): {why}; an idle timeout "
            "between backend and browser closes quiet streams",
        )
    return None


def reconnect_after_end(evidence: Evidence) -> Diagnosis | None:
    """The page got its terminal event but did not close() the EventSource, which reconnected after the
    server ended the stream (or will, when that has not happened yet at failure time).

    The server ends the response right after `done`, usually before the page's close() runs: what
    counts is whether close() came before the next connection, not before the end.
    """
    for stream in _event_streams(evidence):
        terminal = next((f for f in stream.events if f.event in TERMINAL_EVENTS), None)
        if terminal is None:
            continue
        source = _source_for(evidence, stream)
        page_closed = _closed_at(evidence, source)
        ended = stream.closed_at if stream.closed_at is not None else float("inf")
        later = [s for s in evidence.streams if s.path == stream.path and s.opened_at >= ended]
        if later and (page_closed is None or page_closed > later[0].opened_at):
            return Diagnosis(
                "reconnect_after_end",
                f"the page opened {_connections_to(evidence, stream.path)} stream connections for one generation: "
                "EventSource reconnected after the stream ended (close() not called on the terminal event)",
            )
        delivered = [
            d
            for d in evidence.eventsource.delivered()
            if d.type == terminal.event
            and d.data == terminal.data
            and (source is None or d.source_id == source.source_id)
        ]
        if delivered and page_closed is None and not later:
            navigated = any(n.t >= delivered[0].t for n in evidence.navigations)
            consequence = (
                "the connection ended only because the page navigated away; a page that stays reconnects"
                if navigated
                else "EventSource reconnects when the stream ends"
            )
            return Diagnosis(
                "reconnect_after_end",
                f"the page received `{terminal.event}` but did not close() its EventSource "
                f"({_connections_to(evidence, stream.path)} stream connection(s) so far): {consequence} "
                "(close() not called on the terminal event)",
            )
    return None


def endless_reconnects(evidence: Evidence) -> Diagnosis | None:
    """The page kept reconnecting to a stream that fails and never closed its EventSource."""
    by_path: dict[str, list[PageRequest]] = {}
    for request in evidence.stream_connections():
        by_path.setdefault(_path_of(request.url), []).append(request)
    for path, requests in by_path.items():
        failed = [r for r in requests if r.failure]
        sources = [s for s in evidence.eventsource.sources if _path_of(s.resolved_url) == path]
        if len(requests) < 3 or not failed or any(_closed_at(evidence, s) is not None for s in sources):
            continue
        reason, count = Counter(r.failure for r in failed).most_common(1)[0]
        return Diagnosis(
            "endless_reconnects",
            f"the page opened {len(requests)} stream connections to {path} ({len(failed)} failed, {count} with "
            f"{reason}) and never called close(): EventSource keeps reconnecting and the page never gives up",
        )
    return None


RULES: tuple[Rule, ...] = (
    cors_blocked,
    stream_not_event_stream,
    compressed_stream,
    unknown_task_stream,
    stream_broke,
    event_without_data,
    unterminated_event,
    payload_drift,
    named_event_mismatch,
    server_error_as_connection_lost,
    gave_up_on_transport_error,
    wrong_field,
    success_before_saved,
    page_error,
    disconnect_not_noticed,
    buffered_stream,
    stream_headers_missing,
    status_not_rendered,
    idle_cut,
    reconnect_after_end,
    endless_reconnects,
)


# --- The whole diagnosis -----------------------------------------------------------------------------


def _context(evidence: Evidence) -> list[str]:
    """The facts every diagnosis ends with, so the report can be read without opening the files."""
    lines = [f"wire: {s.describe()}" for s in evidence.streams[:_MAX_DETAIL_STREAMS]]
    if len(evidence.streams) > _MAX_DETAIL_STREAMS:
        lines.append(f"wire: ... and {len(evidence.streams) - _MAX_DETAIL_STREAMS} more stream responses")
    for stream in evidence.streams[:1]:
        if _is_cross_origin(stream.origin, stream.host):
            allowed = stream.response_headers.get("access-control-allow-origin")
            lines.append(f"cross-origin stream: page origin {stream.origin}, Access-Control-Allow-Origin {allowed!r}")
    failed = [e for e in evidence.http_exchanges if e.status is None or e.status >= 400]
    lines += [f"backend answered {e.describe()}" for e in failed[:3]]
    log = evidence.eventsource
    received = [d.type for d in log.delivered() if d.message_event]
    listened = ", ".join(f"{type_} ({'/'.join(ways)})" for type_, ways in log.listened_types().items())
    lines.append(
        f"page: {len(log.sources)} EventSource(s), listens for [{listened}], "
        f"listeners received [{describe_sequence(received)}], {len(log.closes)} close() call(s), "
        f"{len(evidence.stream_connections())} stream connection(s)"
    )
    if evidence.navigations:
        lines.append(f"page navigated: {' -> '.join(_path_of(n.url) or n.url for n in evidence.navigations)}")
    regions = (("status", evidence.page_status_text), ("alert", evidence.page_alert_text))
    shown = "; ".join(f"{region}: {_quote(text)}" for region, text in regions if text)
    if shown:
        lines.append(f"page shows {shown}")
    return lines


def _summary(evidence: Evidence) -> Diagnosis:
    sent = [f.event for _, f in evidence.wire_events()]
    received = [d.type for d in evidence.eventsource.delivered() if d.message_event]
    parts = [
        f"backend sent [{describe_sequence(sent)}]",
        f"page received [{describe_sequence(received)}]",
        f"{len(evidence.stream_connections())} stream connection(s)",
    ]
    errors = evidence.console_errors()
    if errors:
        parts.append(f"last console error: {_first_line(errors[-1].text, 200)}")
    return Diagnosis("summary", "no rule matched: " + "; ".join(parts))


def diagnose(evidence: Evidence, rules: Iterable[Rule] = RULES) -> Diagnosis:
    """The first matching rule's diagnosis, or a plain summary; details end with the context."""
    skipped: list[str] = []
    for rule in rules:
        try:
            found = rule(evidence)
        except Exception as error:  # noqa: BLE001 - a broken rule must not hide the test's own failure
            skipped.append(f"rule {rule.__name__} skipped: {type(error).__name__}: {error}")
            continue
        if found is not None:
            return Diagnosis(found.rule, found.line, [*found.details, *_context(evidence), *skipped])
    summary = _summary(evidence)
    return Diagnosis(summary.rule, summary.line, [*_context(evidence), *skipped])
