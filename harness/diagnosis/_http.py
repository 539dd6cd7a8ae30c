"""Rules about HTTP: CORS, the stream's status, type and headers, unknown tasks, a draft the editor cannot load."""

from __future__ import annotations

import json

from harness.contract import AppContract, read_path
from harness.diagnosis._base import Diagnosis, first_line, is_cross_origin, page_reaction, quote
from harness.evidence import Evidence, HttpExchange, PageRequest, WireStream, describe_sequence, path_of


def _json_detail(body: str) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    detail = payload.get("detail") if isinstance(payload, dict) else None
    return detail if isinstance(detail, str) else None


def _allows_origin(headers: dict[str, str], origin: str, with_credentials: bool) -> bool:
    allowed = headers.get("access-control-allow-origin", "").strip()
    if with_credentials:
        return allowed == origin and headers.get("access-control-allow-credentials", "").lower() == "true"
    return allowed in ("*", origin)


def cors_blocked(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """A cross-origin stream (or API call) without an Access-Control-Allow-Origin for the page's origin.

    The browser drops such a response and says so only in the console; EventSource just fails.
    """
    with_credentials = any(s.with_credentials for s in evidence.eventsource.sources)
    console = [c for c in evidence.console if "cors policy" in c.text.lower()]
    said = [f"console: {first_line(c.text, 300)}" for c in console[:2]]
    for stream in evidence.streams:
        if is_cross_origin(stream.origin, stream.host) and stream.status is not None:
            if not _allows_origin(stream.response_headers, stream.origin or "", with_credentials):
                sent = stream.response_headers.get("access-control-allow-origin")
                credentials = " with credentials" if with_credentials else ""
                return Diagnosis(
                    "cors_blocked",
                    f"the stream response for {stream.path} has no Access-Control-Allow-Origin for the page origin "
                    f"{stream.origin}{credentials} (it sent {sent!r}): the browser blocks it and EventSource fails",
                    said,
                )
    for exchange in evidence.http_exchanges:
        # No answer, or a 5xx (often from the error middleware outside CORS): the header is not the cause.
        status = exchange.status or 500
        if is_cross_origin(exchange.origin, exchange.host) and status < 500:
            allowed = _allows_origin(exchange.response_headers, exchange.origin or "", with_credentials=False)
            if exchange.method != "OPTIONS" and not allowed:
                return Diagnosis(
                    "cors_blocked",
                    f"{exchange.method} {exchange.path} answered {exchange.status} without Access-Control-Allow-Origin "
                    f"for the page origin {exchange.origin}: the browser hides the answer from the page",
                    said,
                )
            if exchange.method == "OPTIONS" and status >= 400:
                return Diagnosis(
                    "cors_blocked",
                    f"the CORS preflight OPTIONS {exchange.path} from {exchange.origin} was refused with "
                    f"{exchange.status} {quote(exchange.body_excerpt, 80)}: the page's request was never sent",
                    said,
                )
    if console:
        return Diagnosis(
            "cors_blocked", f"the browser blocked a cross-origin request: {first_line(console[0].text, 300)}"
        )
    return None


def stream_not_event_stream(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """A stream request answered with a non-200 status or a type other than text/event-stream.

    EventSource then fails for good at once (no reconnect) and cannot read the body; the line says
    how the page took it.
    """
    candidates = [s for s in evidence.streams if s.status is not None and (s.status != 200 or not s.is_event_stream)]
    if candidates:
        stream = candidates[0]
        order = [s for s in evidence.streams if s.path == stream.path].index(stream) + 1
        nth = f" (connection {order} of {evidence.connections_to(stream.path)})" if order > 1 else ""
        body = f" {quote(stream.body_excerpt, 100)}" if stream.body_excerpt else ""
        seen = [r for r in evidence.stream_connections() if path_of(r.url) == stream.path]
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
            f"{page_reaction(evidence, _json_detail(stream.body_excerpt))}",
        )
    for request in evidence.stream_connections():
        bad_type = request.content_type and not request.content_type.lower().startswith("text/event-stream")
        if request.status is not None and (request.status != 200 or bad_type):
            return Diagnosis(
                "stream_not_event_stream",
                f"the page's stream request {path_of(request.url)} was answered {request.status} "
                f"{request.content_type or '(no content type)'} by something other than the backend (it logged no "
                f"such answer): EventSource gives up at once{page_reaction(evidence, None)}",
            )
    return None


def compressed_stream(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The stream response is compressed: a compressor releases bytes in blocks, not per event."""
    for stream in evidence.event_streams():
        encoding = stream.response_headers.get("content-encoding", "")
        if encoding and encoding.lower() != "identity":
            return Diagnosis(
                "compressed_stream",
                f"the stream response for {stream.path} is compressed (Content-Encoding: {encoding}): the "
                f"compressor holds events back until it flushes a block, so the page gets them late or all at "
                f"once ({stream.bytes_sent} compressed bytes sent so far)",
            )
    return None


def _issued_tasks(evidence: Evidence, contract: AppContract) -> set[tuple[str, str]]:
    """(campaign, task) pairs the backend handed out in this test (2xx answers to generate requests)."""
    issued = set()
    for exchange in evidence.http_exchanges:
        values = contract.generate.match(exchange.path)
        if values is not None and exchange.method == "POST" and 200 <= (exchange.status or 0) < 300:
            try:
                task_id = json.loads(exchange.body_excerpt).get(contract.task_id_field)
            except (ValueError, AttributeError):
                continue
            if isinstance(task_id, str | int):
                issued.add((values.get("campaign_id", ""), str(task_id)))
    return issued


def unknown_task_stream(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """A 200 stream for a task this test never created: one that carries nothing but an error event (or
    again and again for one path), or nothing but the not-yet-taken state (`pending`, which is how a
    store that reads a missing task as waiting answers): an unknown task should be a 404 before the
    stream starts.
    """
    issued = _issued_tasks(evidence, contract)
    error, done = contract.events.error, contract.events.done
    by_path: dict[str, list[WireStream]] = {}
    for stream in evidence.event_streams():
        by_path.setdefault(stream.path, []).append(stream)
    found = _unknown_task_waiting(evidence, contract, issued, by_path)
    if found is not None:
        return found
    for path, streams in by_path.items():
        error_only = [
            s
            for s in streams
            if s.status == 200
            and any(f.event == error for f in s.events)
            and all(f.event in (error, done) for f in s.events)
        ]
        if not error_only:
            continue
        ids = contract.stream_ids(path)
        unknown = bool(issued) and ids is not None and ids not in issued
        looping = len(error_only) >= 2 and len(error_only) == len(streams)
        if not (unknown or looping):
            continue
        message = next((contract.error_message(f.payload()) for f in error_only[0].events if f.event == error), None)
        connections = evidence.connections_to(path)
        what = f"task {ids[1]!r} of campaign {ids[0]!r}, which this test never created," if unknown and ids else path
        again = (
            f"; the page does not close() on it, so EventSource reconnected ({connections} stream connections)"
            if connections >= 2
            else ""
        )
        return Diagnosis(
            "unknown_task_stream",
            f"the backend answered the stream for {what} with 200 and only an `{error}` event ({quote(message or '')}) "
            f"instead of a 404 before the stream starts{again}{page_reaction(evidence, None)}",
        )
    return None


def _unknown_task_waiting(
    evidence: Evidence, contract: AppContract, issued: set[tuple[str, str]], by_path: dict[str, list[WireStream]]
) -> Diagnosis | None:
    """The stream of a task no generate answer named, 200 and nothing but the first status event
    (the state before a worker takes the task) or no event at all: the page waits for nothing."""
    if not issued or not contract.events.status:
        return None
    waiting = contract.events.status[0]
    issued_ids = {task for _, task in issued}
    for path, streams in by_path.items():
        ids = contract.stream_ids(path)
        # A task the test did create, streamed under another campaign, is `foreign_task_streamed`'s.
        if ids is None or ids[1] in issued_ids:
            continue
        quiet = [s for s in streams if s.status == 200 and all(f.event == waiting for f in s.events)]
        if not quiet:
            continue
        sent = [f.event for s in quiet for f in s.events]
        what = f"only [{describe_sequence(sent)}]" if sent else "no event"
        return Diagnosis(
            "unknown_task_stream",
            f"the backend answered the stream for task {ids[1]!r} of campaign {ids[0]!r}, which this test never "
            f"created, with 200 and {what}: an unknown task reads as `{waiting}` (not yet started), so the page "
            f"waits for a generation that does not exist; expected a 404 before the stream starts (the "
            f"generate answers named {sorted(issued_ids)}){page_reaction(evidence, None)}",
        )
    return None


def stream_broke(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """A stream response that died with an exception in the backend (not a shutdown)."""
    for stream in evidence.streams:
        if stream.ended_by == "error" and not stream.error.startswith("CancelledError"):
            return Diagnosis(
                "stream_broke",
                f"the stream {stream.path} broke in the backend after {len(stream.events)} events "
                f"[{describe_sequence(f.event for f in stream.events)}]: {first_line(stream.error)}",
                [line for line in evidence.backend_log if "Traceback" in line or "ERROR" in line][:3],
            )
    return None


def draft_not_loaded(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The draft the success event announced could not be loaded (any 4xx/5xx), by the editor or anyone."""
    for _, frame in evidence.wire_events():
        draft_id = contract.draft_id(frame.payload()) if frame.event == contract.events.success else None
        if not draft_id:
            continue
        path = contract.draft.fill(draft_id=draft_id, campaign_id=contract.campaign_id)
        lookups: list[HttpExchange | PageRequest] = [
            e for e in evidence.http_exchanges if e.path == path and e.t >= frame.t - 0.001
        ]
        lookups += [r for r in evidence.page_requests if path_of(r.url) == path and r.t >= frame.t - 0.001]
        failed = [x for x in lookups if x.status is not None and x.status >= 400]
        if not failed:
            continue
        status, delay = failed[0].status, failed[0].t - frame.t
        method = getattr(failed[0], "method", "GET")
        why = (
            "the draft was not saved before `success` was sent"
            if status == 404
            else "the editor cannot load the draft the stream announced"
        )
        return Diagnosis(
            "draft_not_loaded",
            f"{method} {path} answered {status} {delay:.2f} s after the backend sent `{frame.event}` for it: {why}",
        )
    return None


def stream_headers_missing(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The stream lacks the headers that keep proxies and caches from holding it (latent: fine on loopback)."""
    required = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    for stream in evidence.event_streams():
        missing = [
            f"{name}: {value}"
            for name, value in required.items()
            if value not in stream.response_headers.get(name, "").lower()
        ]
        if missing:
            sent = ", ".join(f"{k}: {stream.response_headers[k]}" for k in required if k in stream.response_headers)
            return Diagnosis(
                "stream_headers_missing",
                f"the stream response for {stream.path} lacks {' and '.join(missing)}: reverse proxies and caches "
                f"may buffer or store it (sent: {sent})",
            )
    return None


def foreign_task_streamed(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The stream of a task created under one campaign was served with 200 under another campaign's path."""
    owners = {task: campaign for campaign, task in _issued_tasks(evidence, contract)}
    for stream in evidence.event_streams():
        ids = contract.stream_ids(stream.path)
        if ids is None or stream.status != 200 or not stream.events:
            continue
        campaign, task = ids
        owner = owners.get(task)
        if owner is not None and owner != campaign:
            return Diagnosis(
                "foreign_task_streamed",
                f"the backend streamed task {task!r}, created under campaign {owner!r}, under campaign {campaign!r} "
                f"with 200 and [{describe_sequence(f.event for f in stream.events)}]: it does not check that the "
                "task belongs to the campaign in the path (expected a 404 before the stream starts)",
            )
    return None


def _draft_path_prefix(contract: AppContract) -> str:
    """`draft.` when the success payload nests the draft (draft.id): the draft route answers that object."""
    head, _, _ = contract.payloads.draft_id.rpartition(".")
    return f"{head}." if head else ""


def draft_mismatch(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The stream announced one draft and the draft route answered another (a stale or wrong draft)."""
    prefix = _draft_path_prefix(contract)
    for _, frame in evidence.wire_events():
        if frame.event != contract.events.success:
            continue
        payload = frame.payload()
        draft_id = contract.draft_id(payload)
        if not draft_id:
            continue
        announced = read_path(payload, contract.payloads.draft_title)
        path = contract.draft.fill(draft_id=draft_id, campaign_id=contract.campaign_id)
        for exchange in evidence.http_exchanges:
            if exchange.path != path or exchange.status != 200 or exchange.t < frame.t - 0.001:
                continue
            try:
                answer = json.loads(exchange.body_excerpt)
            except ValueError:
                continue
            served_id = read_path(answer, contract.payloads.draft_id.removeprefix(prefix))
            served_title = read_path(answer, contract.payloads.draft_title.removeprefix(prefix))
            if (served_id is not None and str(served_id) != draft_id) or (
                announced is not None and served_title is not None and served_title != announced
            ):
                return Diagnosis(
                    "draft_mismatch",
                    f"stream healthy: `{frame.event}` announced draft {draft_id!r} titled {announced!r}; the failure "
                    f"is the draft the editor loaded: GET {path} answered draft {served_id!r} titled "
                    f"{served_title!r} (a stale or wrong draft is served)",
                )
    return None
