"""Rules about what the page did with what it received: errors shown, ids read, statuses rendered, closing."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import unquote

from harness.contract import AppContract
from harness.diagnosis._base import CONNECTION_LOST, SAME_DISPATCH_S, STALLED_AGE_S, Diagnosis, first_line, quote
from harness.evidence import Evidence, PageRequest, path_of

_TAG = re.compile(r"<[^>]*>")
_BAD_IDS = ("undefined", "null", "NaN", "[object Object]", "")


def server_error_as_connection_lost(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The server sent its error event with a message, the page said the connection was lost instead.

    Both the server's event and EventSource's transport error arrive as `error`; only the server's is
    a MessageEvent with data.
    """
    # What the page showed; Playwright's failure text (its "Actual value") only when that was not read,
    # because the failure text also quotes the *expected* text.
    shown = evidence.page_shows() or evidence.failure_text
    visible = CONNECTION_LOST.search(shown)
    if not visible:
        return None
    for _, frame in evidence.wire_events():
        message = contract.error_message(frame.payload()) if frame.event == contract.events.error else None
        if message and message not in evidence.page_shows():
            as_message = [
                d for d in evidence.eventsource.dispatches if d.type == contract.events.error and d.message_event
            ]
            details = [
                f"the page dispatched the server's error as a MessageEvent to {d.listeners_called} listener(s)"
                for d in as_message[:1]
            ]
            said = next((line.strip() for line in shown.splitlines() if visible.group(0) in line), visible.group(0))
            return Diagnosis(
                "server_error_as_connection_lost",
                f"backend sent `event: {frame.event}` with the message {quote(message)}; the page showed "
                f"{quote(said)} instead: it treats the server's error event (a MessageEvent with data) as a lost "
                "connection",
                details,
            )
    return None


def gave_up_on_transport_error(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
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
        page_closed = evidence.closed_at(source)
        if page_closed is None or not 0 <= page_closed - first.t <= SAME_DISPATCH_S:
            continue
        failures = [r.failure for r in evidence.stream_connections() if r.failure]
        why = f" ({failures[0]})" if failures else ""
        shown = f" and showed {quote(evidence.page_alert_text)}" if evidence.page_alert_text else ""
        return Diagnosis(
            "gave_up_on_transport_error",
            f"the stream connection dropped{why} while EventSource was reconnecting (readyState CONNECTING), but "
            f"the page closed it at once{shown}: it gives up on a transport error instead of letting EventSource "
            "reconnect",
        )
    return None


def _bad_id_paths(contract: AppContract) -> set[str]:
    """The editor and draft routes filled with what a page writes when it read no id."""
    return {
        route.fill(draft_id=bad, campaign_id=contract.campaign_id)
        for route in (contract.editor_page, contract.draft)
        for bad in _BAD_IDS
    }


def _has_bad_segment(url: str) -> bool:
    segments = [unquote(s).lower() for s in path_of(url).split("/")[1:]]
    return any(s in {bad.lower() for bad in _BAD_IDS if bad} for s in segments)


def wrong_field(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """After success the page went to a URL with `undefined`/`null` (or nothing) where the draft id belongs."""
    bad_paths = _bad_id_paths(contract)
    for _, frame in evidence.wire_events():
        if frame.event != contract.events.success:
            continue
        urls = [url for url, _ in evidence.requests_after(frame.t - 0.001)]
        bad = [url for url in urls if unquote(path_of(url)) in bad_paths or _has_bad_segment(url)]
        if not bad:
            continue
        payload = frame.payload()
        keys = ", ".join(payload) if isinstance(payload, dict) else "(not an object)"
        draft_id = contract.draft_id(payload)
        where = f" ({contract.payloads.draft_id} is {draft_id!r})" if draft_id else ""
        return Diagnosis(
            "wrong_field",
            f"the page read the draft id from a field the success payload does not have: it went to "
            f"{path_of(bad[0])}; payload keys: {keys}{where}",
        )
    return None


def page_error(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """An uncaught exception in the page: names the first."""
    errors = evidence.page_errors()
    if not errors:
        return None
    first = errors[0]
    where = f" at {first.location}" if first.location else ""
    count = f" (first of {len(errors)})" if len(errors) > 1 else ""
    return Diagnosis("page_error", f"uncaught error in the page: {first_line(first.text)}{where}{count}")


def status_not_rendered(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page's listener received a status message but the page shows an older one.

    Only when nothing came after it (no terminal event, no navigation) that would replace the status.
    """
    delivered = [d for d in evidence.eventsource.delivered() if d.message_event]
    if not delivered or not evidence.page_status_text or delivered[-1].type not in contract.events.status:
        return None
    last = delivered[-1]
    if any(n.t > last.t for n in evidence.navigations):
        return None
    message = contract.progress_text(last.payload())
    shown = evidence.page_status_text
    if message is None or message == shown:
        return None
    if message in shown:
        return Diagnosis(
            "status_not_rendered",
            f"the page's listener received `{last.type}` {quote(message)} but the page shows {quote(shown)}: it adds "
            "each status to the previous text instead of replacing it",
        )
    if _TAG.sub("", message) == shown and message != shown:
        return Diagnosis(
            "status_not_rendered",
            f"the page's listener received `{last.type}` {quote(message)} but the page shows {quote(shown)}: it "
            "renders the server's text as HTML instead of as text",
        )
    if message in evidence.page_shows():
        return None
    return Diagnosis(
        "status_not_rendered",
        f"the page's listener received `{last.type}` {quote(message)} but the page still shows "
        f"{quote(evidence.page_status_text)}: it does not render every status it receives",
    )


def reconnect_after_end(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page got its terminal event but did not close() the EventSource, which reconnected after the
    server ended the stream (or will, when that has not happened yet at failure time).

    The server ends the response right after `done`, usually before the page's close() runs: what
    counts is whether close() came before the next connection, not before the end.
    """
    for stream in evidence.event_streams():
        terminal = next((f for f in stream.events if f.event in contract.events.terminal), None)
        if terminal is None:
            continue
        source = evidence.source_for(stream)
        page_closed = evidence.closed_at(source)
        ended = stream.closed_at if stream.closed_at is not None else float("inf")
        later = [s for s in evidence.streams if s.path == stream.path and s.opened_at >= ended]
        if later and (page_closed is None or page_closed > later[0].opened_at):
            return Diagnosis(
                "reconnect_after_end",
                f"the page opened {evidence.connections_to(stream.path)} stream connections for one generation: "
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
                f"({evidence.connections_to(stream.path)} stream connection(s) so far): {consequence} "
                "(close() not called on the terminal event)",
            )
    return None


def endless_reconnects(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page kept reconnecting to a stream that fails and never closed its EventSource."""
    by_path: dict[str, list[PageRequest]] = {}
    for request in evidence.stream_connections():
        by_path.setdefault(path_of(request.url), []).append(request)
    for path, requests in by_path.items():
        failed = [r for r in requests if r.failure]
        sources = [s for s in evidence.eventsource.sources if path_of(s.resolved_url) == path]
        if len(requests) < 3 or not failed or any(evidence.closed_at(s) is not None for s in sources):
            continue
        reason, count = Counter(r.failure for r in failed).most_common(1)[0]
        return Diagnosis(
            "endless_reconnects",
            f"the page opened {len(requests)} stream connections to {path} ({len(failed)} failed, {count} with "
            f"{reason}) and never called close(): EventSource keeps reconnecting and the page never gives up",
        )
    return None


def duplicate_generation(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page started more than one generation in one test (a button left enabled, a double submit)."""
    started = [
        e
        for e in evidence.http_exchanges
        if e.method == "POST" and contract.is_generate(e.path) and 200 <= (e.status or 0) < 300
    ]
    if len(started) < 2:
        return None
    gap = started[1].t - started[0].t
    return Diagnosis(
        "duplicate_generation",
        f"the page started {len(started)} generations ({started[0].method} {started[0].path}, the second "
        f"{gap:.2f} s after the first) and opened {len(evidence.stream_connections())} stream connection(s): "
        "it lets a running generation be started again (Generate left enabled, or a double submit)",
    )


def wrong_editor_route(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """After success the page went somewhere that is not the contract's editor route."""
    for _, frame in evidence.wire_events():
        draft_id = contract.draft_id(frame.payload()) if frame.event == contract.events.success else None
        if not draft_id:
            continue
        # Where the page meant to open this draft (the id is in the path) but on another route.
        later = [n for n in evidence.navigations if n.t >= frame.t - 0.001 and draft_id in unquote(path_of(n.url))]
        if later and all(contract.editor_page.match(path_of(n.url)) is None for n in later):
            expected = contract.editor_page.fill(draft_id=draft_id, campaign_id=contract.campaign_id)
            return Diagnosis(
                "wrong_editor_route",
                f"after `{frame.event}` for draft {draft_id!r} the page went to {path_of(later[-1].url)}, not the "
                f"editor route {expected} ({contract.editor_page.template})",
            )
    return None


def stream_healthy(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """Every event the backend sent reached a page listener, in order, and the stream ended cleanly:
    the failure lies elsewhere, and the line says so with the test's own failure."""
    sent = [frame for _, frame in evidence.wire_events()]
    if not sent or not evidence.eventsource.sources:
        return None
    delivered = evidence.deliveries()
    relevant = [f for f in sent if f.event != contract.events.done]
    if any(delivered[(f.event, f.data)] == 0 for f in relevant):
        return None
    if evidence.page_errors() or any(s.ended_by == "error" for s in evidence.streams):
        return None
    failure = first_line(evidence.failure_text, 200) or "(no failure message)"
    return Diagnosis(
        "stream_healthy",
        f"stream healthy: the backend sent [{', '.join(dict.fromkeys(f.event for f in sent))}] and the page's "
        f"listeners received every event; the failure is elsewhere: {failure}",
    )


def failed_before_the_stream(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The test failed right after the page opened its EventSource, before any event was due: nothing
    on the stream can be at fault yet (a form input lost on its way, an assertion on the request),
    and the line says so with the test's own failure."""
    sources = evidence.eventsource.sources
    if not sources or any(evidence.wire_events()) or evidence.page_errors():
        return None
    if any(d.type == "error" for d in evidence.eventsource.dispatches):
        return None
    if any(s.ended_by == "error" or (s.status is not None and s.status != 200) for s in evidence.streams):
        return None
    age = evidence.collected_at - min(source.t for source in sources)
    if not 0 <= age < STALLED_AGE_S:
        return None  # long enough for a first event to be overdue: a stream rule's business
    failure = first_line(evidence.failure_text, 200) or "(no failure message)"
    return Diagnosis(
        "failed_before_the_stream",
        f"stream not at fault: the test failed {age:.1f} s after the page opened its EventSource, before any "
        f"event was due; the failure is elsewhere: {failure}",
    )


def closed_before_terminal(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page closed its EventSource in the listener of a status event, before any terminal event."""
    log = evidence.eventsource
    for close in log.closes:
        before = [d for d in log.delivered() if d.source_id == close.source_id and d.message_event and d.t <= close.t]
        if not before or any(d.type in contract.events.terminal for d in before):
            continue
        last = before[-1]
        if last.type in contract.events.status and 0 <= close.t - last.t <= SAME_DISPATCH_S:
            return Diagnosis(
                "closed_before_terminal",
                f"the page closed its EventSource in the listener of `{last.type}` "
                f"({quote(contract.progress_text(last.payload()) or '')}), before any terminal event: it stops "
                "listening before the generation ends",
            )
    return None


def payload_misread(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page received an event whose payload holds the contract's field, then showed an error that is
    not the server's: it reads the payload at another path."""
    server_messages = {
        message
        for _, frame in evidence.wire_events()
        if frame.event == contract.events.error and (message := contract.error_message(frame.payload()))
    }
    alert = evidence.page_alert_text
    if not alert or any(message in alert for message in server_messages):
        return None
    readers = {
        **{
            name: ("progress text", contract.payloads.progress_text, contract.progress_text)
            for name in contract.events.status
        },
        contract.events.success: ("draft id", contract.payloads.draft_id, contract.draft_id),
        contract.events.error: ("error message", contract.payloads.error_message, contract.error_message),
    }
    # The last event the page handled is the one whose handling showed the error.
    for dispatch in reversed(evidence.eventsource.delivered()):
        if not dispatch.message_event or dispatch.type not in readers:
            continue
        later_trouble = any(n.t >= dispatch.t for n in evidence.navigations) or any(
            d.t >= dispatch.t and d.type == "error" and not d.message_event for d in evidence.eventsource.dispatches
        )
        if later_trouble or CONNECTION_LOST.search(alert):
            return None  # the page moved on, or the connection failed after it: not this event's reading
        what, path, read = readers[dispatch.type]
        value = read(dispatch.payload())
        if value is None or (dispatch.type == contract.events.error and value in alert):
            return None
        return Diagnosis(
            "payload_misread",
            f"the page received `{dispatch.type}` with its {what} at `{path}` ({quote(str(value), 60)}) and then "
            f"showed {quote(alert)}: it reads the payload at another path than the contract's",
        )
    return None


def second_eventsource(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page opened more than one EventSource to one stream URL while the first was still open."""
    by_path: dict[str, list[str]] = {}
    for source in evidence.eventsource.sources:
        by_path.setdefault(path_of(source.resolved_url), []).append(source.source_id)
    for path, sources in by_path.items():
        if len(sources) < 2:
            continue
        first = evidence.eventsource.sources[[s.source_id for s in evidence.eventsource.sources].index(sources[0])]
        second = next(s for s in evidence.eventsource.sources if s.source_id == sources[1])
        closed = evidence.closed_at(first)
        if closed is None or closed > second.t:
            return Diagnosis(
                "second_eventsource",
                f"the page opened {len(sources)} EventSources to {path} in one document (the second while the "
                f"first was open): each holds its own connection and gets every event "
                f"({evidence.connections_to(path)} stream connections)",
            )
    return None
