"""The SSE timeline of one failed test, as data: rows on one time axis, built from the written evidence.

Rows on one time axis (seconds since the first thing recorded), one column per actor: the test's
scripted steps, the stream connections, each frame as the server sent it, each event as the page's
EventSource dispatched it (and to how many listeners), and what the page showed. Mismatches are
computed here from the data and marked in red: a frame sent but never dispatched, a dispatch that
reached no listener, a dispatch held back, a stream opened after the stream had ended with `done`.

Computed here, drawn by `harness.report._timeline_html`. Hand-written because no tool shows SSE:
Playwright's trace viewer and HAR record nothing of EventSource.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from harness.contract import DRAFTS_API, EventNames
from harness.evidence import Evidence, PageDispatch, WireFrame, WireStream
from harness.recording import PageText
from harness.report._names import EVIDENCE_FILE
from harness.report._records import (
    read_diagnosis,
    read_page_text,
    read_steps,
)
from harness.scripting import StepRecord

LANES: Final = ("test", "connection", "server sent", "page EventSource", "page shows")
HELD_BACK_S: Final = 1.0  # a dispatch later than this after its frame was sent was held back on the way
MAX_TEXT: Final = 140
FILE_LINKS: Final = (
    ("evidence.json", "all evidence (JSON)"),
    ("diagnosis.txt", "diagnosis"),
    ("wire.jsonl", "frames as sent"),
    ("page-eventsource.json", "page EventSource"),
    ("requests.json", "page requests"),
    ("console.log", "console"),
    ("backend.log", "backend log"),
)


def _cut(text: str | None, limit: int = MAX_TEXT) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


Mismatch = tuple[float | None, str]  # when (None: no one moment), and the text with `{at}` for the time


@dataclass
class Row:
    t: float
    lane: str
    text: str  # plain text; escaped when rendered
    marks: list[str] = field(default_factory=list)  # mismatch labels: shown in red
    warn: bool = False  # held back and the like: amber
    order: int = 0
    sort_t: float | None = None  # where it is listed, when not at `t`


@dataclass
class Tally:
    sent: int = 0
    dispatched: int = 0
    delivered: int = 0


@dataclass
class Timeline:
    """What the HTML shows, computed from the data (tests read it without parsing HTML)."""

    test_id: str
    rule: str
    line: str
    details: list[str]
    failure_text: str
    rows: list[Row]
    tallies: dict[str, Tally]
    mismatches: list[str]
    t0: float

    def lane_rows(self, lane: str) -> list[Row]:
        return [row for row in self.rows if row.lane == lane]


def _short(url: str, limit: int = 64) -> str:
    """A long stream URL with its middle left out (the task id at its end is what tells streams apart)."""
    return url if len(url) <= limit else url[: limit // 2 - 2] + "\u2026" + url[-(limit // 2 - 1) :]


def _frame_text(frame: WireFrame) -> str:
    if frame.kind == "event":
        return f"event: {frame.event}  data: {_cut(frame.data)}" + (f"  id: {frame.id}" if frame.id else "")
    if frame.kind == "retry":
        return f"retry: {frame.retry_ms} ms"
    if frame.kind == "comment":
        return f": {_cut((frame.data or '').strip())}"
    if frame.kind == "dataless":
        return f"event: {frame.event} without a data line"
    return f"unterminated block at end of stream: {_cut(frame.data)}"


def _folded_frames(frames: Sequence[WireFrame]) -> list[tuple[WireFrame, str, int, float]]:
    """(first frame, its text, how many, time of the last) with consecutive comments (heartbeats) folded."""
    folded: list[tuple[WireFrame, str, int, float]] = []
    for frame in frames:
        last = folded[-1] if folded else None
        if frame.kind == "comment" and last is not None and last[0].kind == "comment":
            folded[-1] = (last[0], last[1], last[2] + 1, frame.t)
        else:
            folded.append((frame, _frame_text(frame), 1, frame.t))
    return folded


def _stream_rows(
    streams: Sequence[WireStream], collected_at: float, rows: list[Row], mismatches: list[Mismatch], done: str
) -> None:
    ended_with_done_at: float | None = None
    for index, stream in enumerate(sorted(streams, key=lambda s: s.opened_at)):
        kind = stream.content_type or "no content type"
        opened = f"stream #{stream.stream_id} {stream.method} {_short(stream.target)} -> {stream.status} ({kind})"
        marks: list[str] = []
        if index:
            opened = f"reconnect ({index + 1}. connection): " + opened
        if stream.last_event_id_header:
            opened += f", Last-Event-ID {stream.last_event_id_header!r}"
        if ended_with_done_at is not None and stream.opened_at >= ended_with_done_at:
            marks.append("reconnect after the end")
            mismatches.append(
                (stream.opened_at, f"stream #{stream.stream_id} opened at {{at}}, after a stream had ended with `done`")
            )
        if stream.status is not None and (stream.status >= 400 or not stream.is_event_stream):
            marks.append(f"answered {stream.status} {kind}")
            if stream.body_excerpt:
                opened += f": {_cut(stream.body_excerpt)}"
        rows.append(Row(stream.opened_at, "connection", opened, marks))
        for frame, text, count, until in _folded_frames(stream.frames):
            if frame.kind == "comment":
                folded = f"  x{count} (until +{until - frame.t:.2f} s)" if count > 1 else ""
                rows.append(Row(frame.t, "server sent", text + folded))
                continue
            marks = ["browsers never dispatch this"] if frame.kind in ("dataless", "unterminated") else []
            rows.append(Row(frame.t, "server sent", f"#{stream.stream_id} {text}", marks))
            if frame.kind == "event" and frame.event == done and ended_with_done_at is None:
                ended_with_done_at = frame.t
        if stream.closed_at is not None:
            ended = f"stream #{stream.stream_id} ended by {stream.ended_by or '?'}, {stream.bytes_sent} bytes"
            if stream.error:
                ended += f": {_cut(stream.error)}"
            rows.append(Row(stream.closed_at, "connection", ended, ["error"] if stream.ended_by == "error" else []))
        elif stream.ended_by is None:
            rows.append(
                Row(
                    max(stream.opened_at, collected_at),
                    "connection",
                    f"stream #{stream.stream_id} still open at failure time",
                )
            )


def _match_dispatches(
    evidence: Evidence, rows: list[Row], mismatches: list[Mismatch], tallies: dict[str, Tally], done: str
) -> None:
    """Pair every event frame sent with the page's dispatch of it (same type, in order)."""
    sent = sorted(((frame, stream) for stream, frame in evidence.wire_events()), key=lambda pair: pair[0].t)
    dispatches = [d for d in evidence.eventsource.dispatches if d.trusted and d.message_event]
    used: set[int] = set()
    matched: dict[int, WireFrame] = {}
    for frame, _stream in sent:
        tally = tallies.setdefault(frame.event, Tally())
        tally.sent += 1
        for index, dispatch in enumerate(dispatches):
            if index not in used and dispatch.type == frame.event and dispatch.t >= frame.t - 0.05:
                used.add(index)
                matched[index] = frame
                break
        else:
            closed_before = any(close.t >= frame.t - HELD_BACK_S for close in evidence.eventsource.closes)
            after_end = closed_before and frame.event == done
            label = "after the page closed" if closed_before else "never dispatched"
            for row in rows:
                if row.lane == "server sent" and row.t == frame.t and f"event: {frame.event} " in row.text:
                    if after_end:
                        row.text += "  (not dispatched: the page had closed the EventSource, as it should)"
                    elif label not in row.marks:
                        row.marks.append(label)
                    break
            if not after_end:
                why = " (the page had closed its EventSource)" if closed_before else ""
                mismatches.append((frame.t, f"`{frame.event}` sent at {{at}} was never dispatched by the page{why}"))
    undelivered: dict[str, int] = {}
    for index, dispatch in enumerate(dispatches):
        paired: WireFrame | None = matched.get(index)
        tally = tallies.setdefault(dispatch.type, Tally())
        tally.dispatched += 1
        if dispatch.listeners_called:
            tally.delivered += 1
        marks = []
        warn = False
        text = f"{dispatch.type} -> {dispatch.listeners_called} listener(s)"
        if dispatch.data is not None and (paired is None or paired.data != dispatch.data):
            text += f"  data: {_cut(dispatch.data)}"  # the same data as the frame's is not repeated
        if dispatch.listeners_called == 0:
            marks.append("reached no listener")
            undelivered[dispatch.type] = undelivered.get(dispatch.type, 0) + 1
        if paired is not None and dispatch.t - paired.t > HELD_BACK_S:
            text += f"  (sent {dispatch.t - paired.t:.2f} s earlier)"
            marks.append(f"held back {dispatch.t - paired.t:.1f} s")
            warn = True
        elif paired is None:
            text += "  (no matching frame in the wire log)"
        # Listed after its frame: the wire log stamps a frame once its send returned, which can be a
        # millisecond after the page already had it.
        after = paired.t if paired is not None else dispatch.t
        rows.append(Row(dispatch.t, "page EventSource", text, marks, warn, sort_t=max(dispatch.t, after)))
    for type_, count in undelivered.items():
        mismatches.append((None, f"{count} `{type_}` event(s) dispatched to no page listener"))


def _page_stream_requests(evidence: Evidence, rows: list[Row]) -> None:
    """The page's side of the stream connections, where it tells more than the backend's: a proxy in
    between (its own status), a request that never reached the backend, a failed one. (Their times
    can be receipt times, late by up to the test's last Playwright call: no "after the end" check
    here; the backend's stream open times are exact and carry it.)"""
    requests = sorted(evidence.stream_connections(), key=lambda r: r.t)
    statuses = sorted(s.status or 0 for s in evidence.streams)
    differs = len(requests) != len(evidence.streams) or sorted(r.status or 0 for r in requests) != statuses
    for number, request in enumerate(requests, 1):
        if not (differs or request.failure):
            continue
        text = f"page's stream request {number}: {request.method} {_short(request.url)} -> {request.status}"
        marks = [f"failed: {_cut(request.failure, 80)}"] if request.failure else []
        rows.append(Row(request.t, "connection", text, marks))


def _other_page_rows(evidence: Evidence, rows: list[Row]) -> None:
    log = evidence.eventsource
    for source in log.sources:
        listened = ", ".join(f"{t} ({'/'.join(w)})" for t, w in source.listened_types().items()) or "nothing"
        rows.append(
            Row(source.t, "page EventSource", f"new EventSource({_short(source.url, 48)}); listens for {listened}")
        )
    for dispatch in log.dispatches:
        if dispatch.message_event and dispatch.trusted:
            continue  # matched above
        rows.append(Row(dispatch.t, "page EventSource", _transport_text(dispatch), _transport_marks(dispatch)))
    for close in log.closes:
        rows.append(Row(close.t, "page EventSource", f"close() (readyState was {close.ready_state_before})"))
    for entry in evidence.page_errors():
        rows.append(Row(entry.t, "page EventSource", f"uncaught: {_cut(entry.text)}", ["page error"]))


def _transport_text(dispatch: PageDispatch) -> str:
    who = "" if dispatch.trusted else " (by page code)"
    if dispatch.type == "error":
        state = {0: "reconnecting", 2: "closed: gave up"}.get(
            dispatch.ready_state if dispatch.ready_state is not None else -1, f"readyState {dispatch.ready_state}"
        )
        return f"transport error{who} ({state}), {dispatch.listeners_called} listener(s)"
    return f"{dispatch.type}{who}, {dispatch.listeners_called} listener(s)"


def _transport_marks(dispatch: PageDispatch) -> list[str]:
    return ["connection gave up"] if dispatch.type == "error" and dispatch.ready_state == 2 else []


def _text_rows(texts: Iterable[PageText], evidence: Evidence, rows: list[Row]) -> None:
    last_url = ""
    for text in texts:
        if text.url != last_url and last_url:
            rows.append(Row(text.t, "page shows", f"at {_cut(text.url)}"))
        last_url = text.url
        shown = f"status: {_cut(text.status)!r}" if text.status else "status: (empty)"
        if text.alert:
            rows.append(Row(text.t, "page shows", f"{shown}  alert: {_cut(text.alert)!r}", ["alert"]))
        else:
            rows.append(Row(text.t, "page shows", shown))
    if not rows or not any(row.lane == "page shows" for row in rows):
        # No page-text recording (an older evidence folder): what the page showed at failure time.
        for navigation in evidence.navigations:
            rows.append(Row(navigation.t, "page shows", f"navigated to {_cut(navigation.url)}"))
        if evidence.page_status_text or evidence.page_alert_text:
            marks = ["alert"] if evidence.page_alert_text else []
            shown = f"at failure: status {evidence.page_status_text!r}, alert {evidence.page_alert_text!r}"
            rows.append(Row(evidence.collected_at, "page shows", _cut(shown, 2 * MAX_TEXT), marks))


def _step_rows(steps: Iterable[StepRecord], rows: list[Row]) -> None:
    for step in steps:
        took = f" ({(step.t_end - step.t_start) * 1000:.0f} ms)" if step.t_end is not None else " (not applied)"
        by = " [autoplay]" if step.by == "autoplay" else ""
        marks = [f"failed: {_cut(step.error, 120)}"] if step.error else []
        rows.append(Row(step.t_start, "test", f"run #{step.run}: {step.step}{by}{took}", marks))


def build_timeline(
    evidence: Evidence,
    rule: str,
    line: str,
    details: list[str],
    steps: Sequence[StepRecord],
    texts: Sequence[PageText],
    events: EventNames = DRAFTS_API.events,
) -> Timeline:
    """The timeline's rows and marks; `events`: the app's event names (the contract's)."""
    rows: list[Row] = []
    mismatches: list[Mismatch] = []
    tallies: dict[str, Tally] = {}
    _step_rows(steps, rows)
    _stream_rows(evidence.streams, evidence.collected_at, rows, mismatches, events.done)
    _match_dispatches(evidence, rows, mismatches, tallies, events.done)
    _page_stream_requests(evidence, rows)
    _other_page_rows(evidence, rows)
    _text_rows(texts, evidence, rows)
    lane_order = {lane: index for index, lane in enumerate(LANES)}
    for order, row in enumerate(rows):
        row.order = order
    rows.sort(key=lambda row: (row.t if row.sort_t is None else row.sort_t, lane_order[row.lane], row.order))
    t0 = min((row.t for row in rows), default=evidence.collected_at)
    said = [text.format(at=f"+{t - t0:.2f} s" if t is not None else "") for t, text in mismatches]
    return Timeline(evidence.test_id, rule, line, details, evidence.failure_text, rows, tallies, said, t0)


def timeline_for(directory: Path | str) -> Timeline:
    """The timeline of an evidence folder (evidence.json, diagnosis.txt, steps.json, page-text.json)."""
    folder = Path(directory)
    if not (folder / EVIDENCE_FILE).is_file():
        raise FileNotFoundError(f"no {EVIDENCE_FILE} in {folder}: not an evidence folder")
    evidence = Evidence.load(folder)
    rule, line, details = read_diagnosis(folder)
    return build_timeline(evidence, rule, line, details, read_steps(folder), read_page_text(folder))


def timeline_for_evidence(
    evidence: Evidence, steps: Sequence[StepRecord] = (), texts: Sequence[PageText] = ()
) -> Timeline:
    """The timeline of in-memory evidence, without a diagnosis (for the trace groups)."""
    return build_timeline(evidence, "", "", [], steps, texts)
