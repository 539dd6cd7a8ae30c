"""Rules about what is on the wire: event names against the page's listeners and the contract, payload
paths, blocks a browser never dispatches."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.contract import AppContract, read_path
from harness.diagnosis._base import Diagnosis, listening_phrase, quote
from harness.evidence import Evidence, WireFrame, WireStream, describe_sequence

# EventSource's own event types: listening to them does not hear a named server event.
_BUILT_IN_TYPES = frozenset({"open", "error"})


def _unheard_types(evidence: Evidence, contract: AppContract, streams: list[WireStream]) -> list[str]:
    """Contract event types that reached the page with no listener, or that the recorder could not observe
    and no listener was registered for while the page still held the stream.

    What follows a terminal event the page received (`done` after `success`) is left out: a page
    that acts on the terminal event has no use for it, and not closing is a different failure.
    """
    listened = evidence.eventsource.listened_types()
    terminal = contract.events.terminal
    terminal_seen = [d.t for d in evidence.eventsource.delivered() if d.type in terminal]
    # Dispatch order, not time: `done` is often dispatched in the same millisecond as the terminal event.
    unheard: list[str] = []
    for dispatch in evidence.eventsource.message_dispatches():
        if dispatch.listeners_called > 0 and dispatch.type in terminal:
            break
        if dispatch.listeners_called == 0:
            unheard.append(dispatch.type)
    for stream in streams:
        source = evidence.source_for(stream)
        observed = set(source.observed_types) if source is not None else set()
        closed = evidence.closed_at(source)
        wire_end = next((f.t for f in stream.events if f.event in terminal), float("inf"))
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
    known = set(contract.events.all)
    return list(dict.fromkeys(t for t in unheard if t not in listened and t in known))


def named_event_mismatch(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page does not listen for event names the app sends (the production bug: onmessage only).

    Two shapes of the class: the page listens for none of the contract's data-carrying names (then
    nothing the stream says can ever reach it, whatever this test's stream did), or contract events
    on the wire reached no page listener (decided from the page's own dispatches where the recorder
    observed the type). A `done` that arrives after the page closed its EventSource is never
    dispatched, so a healthy page that ignores `done` does not match.
    """
    if not evidence.eventsource.sources:
        return None
    listened = evidence.eventsource.listened_types()
    data_names = set(contract.events.all) - _BUILT_IN_TYPES
    streams = [s for s in evidence.event_streams() if s.events]
    unheard = _unheard_types(evidence, contract, streams)
    deaf = not data_names & set(listened)
    misnamed = [t for t in listened if t not in contract.events.all and t not in ("message", "open")]
    missing = [n for n in contract.events.all if n not in listened and n != contract.events.done]
    if misnamed and missing and not (streams and unheard):
        return Diagnosis(
            "named_event_mismatch",
            f"the page listens for {', '.join(repr(t) for t in misnamed)}, which the app never sends, and not for "
            f"{', '.join(repr(n) for n in missing)}: events of that name never reach the page (named-event mismatch)",
        )
    if not deaf and not (streams and unheard):
        return None
    if not streams:
        return Diagnosis(
            "named_event_mismatch",
            f"the page listens {listening_phrase(listened, data_names)} on its EventSource, but the app names its "
            f"events [{', '.join(contract.events.all)}]: a named event never reaches onmessage, so no event the "
            "stream sends can reach the page (named-event mismatch)",
        )
    sent_types = {f.event for s in streams for f in s.events}
    first = streams[0]
    delivered = sum((evidence.deliveries() & Counter((f.event, f.data) for f in first.events)).values())
    named = "named events" if "message" not in sent_types else "events"
    # When the page hears none of the types the list of listened types says it all; otherwise name the gap.
    gap = "" if deaf or sent_types <= set(unheard) else f"; no listener for {', '.join(repr(t) for t in unheard)}"
    details = [f"event types that reached no page listener: {', '.join(unheard)}"]
    if len(streams) > 1:
        more = [f.event for s in streams[1:] for f in s.events]
        details.append(f"{len(streams) - 1} more stream response(s) sent [{describe_sequence(more)}]")
    return Diagnosis(
        "named_event_mismatch",
        f"backend sent {named} [{describe_sequence(f.event for f in first.events)}]; the page listens "
        f"{listening_phrase(listened, sent_types)}: {delivered} of {len(first.events)} delivered{gap} "
        "(named-event mismatch)",
        details,
    )


def event_without_data(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
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


def unterminated_event(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The server ended a stream in the middle of an event: the browser drops the unterminated tail."""
    for stream in evidence.streams:
        for frame in stream.frames:
            if frame.kind == "unterminated" and stream.ended_by == "server":
                what = f"`{frame.event}` event" if frame.event else "last event"
                return Diagnosis(
                    "unterminated_event",
                    f"the stream {stream.path} ended inside its {what} ({quote(frame.data or '', 80)} without the "
                    "blank line that ends it): browsers drop an unterminated final event",
                )
    return None


def event_name_drift(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The backend sent names outside the contract in place of the contract's own (renamed or unnamed events).

    Extra events next to the contract's are harmless (a page ignores what it does not listen for):
    this fires only when the contract's status or terminal events are missing from the wire.
    """
    sent = [frame for _, frame in evidence.wire_events()]
    names = {frame.event for frame in sent}
    foreign = [frame for frame in sent if frame.event not in contract.events.all]
    if not foreign:
        return None
    missing = [
        what
        for what, wanted in (
            ("status", set(contract.events.status)),
            ("terminal", contract.events.terminal),
            ("end", {contract.events.done}),
        )
        if not wanted & names
    ]
    if not missing:
        return None
    known = ", ".join(contract.events.all)
    first = foreign[0]
    lacking = f"; no {' and no '.join(missing)} event of the contract was sent"
    if first.event == "message":
        return Diagnosis(
            "event_name_drift",
            "backend sent events without an `event:` name (type 'message', data "
            f"{quote(first.data or '', 80)}): the contract names every event ({known}) and a page listening for "
            f"those names never receives them{lacking}",
        )
    return Diagnosis(
        "event_name_drift",
        f"backend sent event `{first.event}`, which is not in the contract (known: {known}); data "
        f"{quote(first.data or '', 80)}{lacking}",
    )


def _paths_for(contract: AppContract, event: str) -> dict[str, str]:
    """The payload paths the page reads in an event of this name, by what they hold."""
    paths = contract.payloads
    if event in contract.events.status:
        return {"progress text": paths.progress_text}
    if event == contract.events.success:
        return {"draft id": paths.draft_id}
    if event == contract.events.error:
        return {"error message": paths.error_message}
    return {}


def _problem(payload: Any, what: str, path: str) -> str | None:
    value = read_path(payload, path)
    if value is None:
        return f"no `{path}` (the {what})"
    wanted: tuple[type, ...] = (str, int) if what == "draft id" else (str,)
    if not isinstance(value, wanted) or isinstance(value, bool):
        return f"`{path}` (the {what}) is {value!r}, a {type(value).__name__}, not a string"
    return None


def _keys(payload: Any) -> str:
    return ", ".join(payload) if isinstance(payload, dict) else type(payload).__name__


def payload_drift(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """An event whose data lacks (or mistypes) a field at the path the contract says the page reads."""
    for _, frame in evidence.wire_events():
        paths = _paths_for(contract, frame.event)
        if not paths:
            continue
        payload = frame.payload()
        if payload is None:
            return Diagnosis(
                "payload_drift",
                f"backend sent `{frame.event}` with data that is not JSON: {quote(frame.data or '', 100)}",
            )
        problems = [p for what, path in paths.items() if (p := _problem(payload, what, path))]
        if problems:
            return Diagnosis(
                "payload_drift",
                f"backend sent `{frame.event}` with data that has {'; '.join(problems)}; payload keys: "
                f"{_keys(payload)}{_shown(evidence, frame)}",
            )
    return None


def _shown(evidence: Evidence, frame: WireFrame) -> str:
    shown = evidence.page_alert_text or evidence.page_status_text
    return f"; the page shows {quote(shown)}" if shown else ""


def backend_sent_error(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The backend ended the generation with its error event (the task failed or expired on its side)."""
    for stream in evidence.event_streams():
        frame = next((f for f in stream.events if f.event == contract.events.error), None)
        if frame is None:
            continue
        before = [f.event for f in stream.events[: stream.events.index(frame)]]
        message = contract.error_message(frame.payload())
        return Diagnosis(
            "backend_sent_error",
            f"the backend ended the generation with `{frame.event}` ({quote(message or frame.data or '')}) after "
            f"[{describe_sequence(before)}] on {stream.path}: the failure is on the backend's side "
            f"(the generation failed, or its task state expired){_shown(evidence, frame)}",
        )
    return None


def stream_ending_drift(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """A stream the server ended whose contract events do not end with one terminal event, then `done`:
    `done` missing or first, the terminal event missing or repeated, a status event after it."""
    known = set(contract.events.all)
    terminal, done = contract.events.terminal, contract.events.done
    for stream in evidence.event_streams():
        names = [f.event for f in stream.events if f.event in known]
        if stream.ended_by != "server" or not names or not any(n in terminal or n == done for n in names):
            continue
        finals = [i for i, n in enumerate(names) if n in terminal]
        problem = ""
        if not finals:
            problem = f"`{done}` came without a terminal event ({' or '.join(sorted(terminal))})"
        elif names[finals[0] + 1 :] != [done]:
            after = names[finals[0] + 1 :]
            problem = (
                f"after `{names[finals[0]]}` came [{describe_sequence(after)}] instead of `{done}` alone"
                if after
                else f"the stream ended after `{names[finals[0]]}` without `{done}`"
            )
        if problem:
            return Diagnosis(
                "stream_ending_drift",
                f"the stream {stream.path} sent [{describe_sequence(names)}]: {problem}; the contract ends a "
                f"generation with one terminal event, then `{done}`{_shown(evidence, stream.events[-1])}",
            )
    return None
