"""The ordered rule list and `diagnose`: one line that explains a failed SSE test.

`diagnose(evidence, contract)` runs the rules in order; the first that matches wins, so the order is
the logic: the more causal rule comes first. A page that cannot hear the app's named events comes
before everything (it also makes the stream look unanswered, the page reconnect, a payload look
unread), then what the browser refuses outright (CORS, a non-event-stream answer), then what is
wrong on the wire (names, payload paths: never before a listener mismatch), then what the page did
with what it received, then timing. Each rule lives in the module of its topic (http, wire, timing,
page), reads the app's protocol from its `AppContract`, names the numbers it saw, and stays silent
on the evidence of a healthy run. When no rule matches, the line is a plain summary of what each
side saw.

A rule that crashes on unexpected evidence is skipped and noted in the details: the diagnosis is
an aid to reading a failure and must never hide the failure behind a traceback of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.contract import DRAFTS_API, AppContract
from harness.diagnosis._base import Diagnosis, Rule, first_line, is_cross_origin, quote
from harness.diagnosis._http import (
    compressed_stream,
    cors_blocked,
    draft_mismatch,
    draft_not_loaded,
    foreign_task_streamed,
    stream_broke,
    stream_headers_missing,
    stream_not_event_stream,
    unknown_task_stream,
)
from harness.diagnosis._page import (
    closed_before_terminal,
    duplicate_generation,
    endless_reconnects,
    failed_before_the_stream,
    gave_up_on_transport_error,
    page_error,
    payload_misread,
    reconnect_after_end,
    second_eventsource,
    server_error_as_connection_lost,
    status_not_rendered,
    stream_healthy,
    wrong_editor_route,
    wrong_field,
)
from harness.diagnosis._timing import (
    buffered_stream,
    disconnect_not_noticed,
    idle_cut,
    reconnect_pending,
    retry_too_long,
    stream_kept_open_after_done,
)
from harness.diagnosis._wire import (
    backend_sent_error,
    event_name_drift,
    event_without_data,
    named_event_mismatch,
    payload_drift,
    stream_ending_drift,
    unterminated_event,
)
from harness.evidence import Evidence, describe_sequence, path_of

_MAX_DETAIL_STREAMS = 8

RULES: tuple[Rule, ...] = (
    named_event_mismatch,
    cors_blocked,
    stream_not_event_stream,
    compressed_stream,
    unknown_task_stream,
    foreign_task_streamed,
    stream_broke,
    event_without_data,
    unterminated_event,
    event_name_drift,
    stream_ending_drift,
    payload_drift,
    server_error_as_connection_lost,
    gave_up_on_transport_error,
    wrong_field,
    payload_misread,
    closed_before_terminal,
    second_eventsource,
    draft_not_loaded,
    wrong_editor_route,
    page_error,
    duplicate_generation,
    disconnect_not_noticed,
    buffered_stream,
    stream_headers_missing,
    status_not_rendered,
    idle_cut,
    reconnect_after_end,
    endless_reconnects,
    retry_too_long,
    reconnect_pending,
    stream_kept_open_after_done,
)

# When no fault rule matched: what the evidence still says about where the failure lies. These
# describe healthy streams (a backend error the page showed, a stream every event of which arrived),
# so they may match on a passing run too, and only ever run after every fault rule stayed silent.
LAST_RESORT: tuple[Rule, ...] = (
    draft_mismatch,
    backend_sent_error,
    stream_healthy,
    failed_before_the_stream,
)


# --- The whole diagnosis -----------------------------------------------------------------------------


def _context(evidence: Evidence) -> list[str]:
    """The facts every diagnosis ends with, so the report can be read without opening the files."""
    lines = [f"wire: {s.describe()}" for s in evidence.streams[:_MAX_DETAIL_STREAMS]]
    if len(evidence.streams) > _MAX_DETAIL_STREAMS:
        lines.append(f"wire: ... and {len(evidence.streams) - _MAX_DETAIL_STREAMS} more stream responses")
    for stream in evidence.streams[:1]:
        if is_cross_origin(stream.origin, stream.host):
            allowed = stream.response_headers.get("access-control-allow-origin")
            lines.append(f"cross-origin stream: page origin {stream.origin}, Access-Control-Allow-Origin {allowed!r}")
    failed = [e for e in evidence.http_exchanges if e.status is None or e.status >= 400]
    lines += [f"backend answered {e.describe()}" for e in failed[:3]]
    log = evidence.eventsource
    received = evidence.received_types()
    listened = ", ".join(f"{type_} ({'/'.join(ways)})" for type_, ways in log.listened_types().items())
    lines.append(
        f"page: {len(log.sources)} EventSource(s), listens for [{listened}], "
        f"listeners received [{describe_sequence(received)}], {len(log.closes)} close() call(s), "
        f"{len(evidence.stream_connections())} stream connection(s)"
    )
    if evidence.navigations:
        lines.append(f"page navigated: {' -> '.join(path_of(n.url) or n.url for n in evidence.navigations)}")
    regions = (("status", evidence.page_status_text), ("alert", evidence.page_alert_text))
    shown = "; ".join(f"{region}: {quote(text)}" for region, text in regions if text)
    if shown:
        lines.append(f"page shows {shown}")
    return lines


def _summary(evidence: Evidence) -> Diagnosis:
    parts = [
        f"backend sent [{describe_sequence(evidence.sent_types())}]",
        f"page received [{describe_sequence(evidence.received_types())}]",
        f"{len(evidence.stream_connections())} stream connection(s)",
    ]
    errors = evidence.console_errors()
    if errors:
        parts.append(f"last console error: {first_line(errors[-1].text, 200)}")
    return Diagnosis("summary", "no rule matched: " + "; ".join(parts))


def diagnose(
    evidence: Evidence,
    contract: AppContract | None = None,
    rules: Iterable[Rule] = RULES,
    last_resort: Iterable[Rule] = LAST_RESORT,
) -> Diagnosis:
    """The first matching rule's diagnosis (fault rules, then the last-resort ones), or a plain summary;
    details end with the context.

    `contract` is the app's contract the evidence was taken under (DRAFTS_API when none is given).
    """
    contract = contract or DRAFTS_API
    skipped: list[str] = []
    for rule in (*rules, *last_resort):
        try:
            found = rule(evidence, contract)
        except Exception as error:  # noqa: BLE001 - a broken rule must not hide the test's own failure
            skipped.append(f"rule {rule.__name__} skipped: {type(error).__name__}: {error}")
            continue
        if found is not None:
            return Diagnosis(found.rule, found.line, [*found.details, *_context(evidence), *skipped])
    summary = _summary(evidence)
    return Diagnosis(summary.rule, summary.line, [*_context(evidence), *skipped])
