"""Rules about time: events held back (buffered), quiet streams cut, streams the backend keeps for nobody."""

from __future__ import annotations

from harness.contract import AppContract
from harness.diagnosis._base import (
    BUFFERED_LAG_S,
    IDLE_GAP_S,
    STALLED_AGE_S,
    Diagnosis,
    kinds,
    stream_header_hint,
)
from harness.evidence import Evidence, PageEventSource, WireFrame, describe_sequence, path_of

# The reconnection time EventSource uses until a `retry:` sets one: implementation-defined by the HTML
# standard (Chromium and WebKit 3 s, Firefox 5 s), so it is named, not computed.
_BROWSER_DEFAULT_RETRY = "3 s in Chromium, 5 s in Firefox"
_BROWSER_DEFAULT_RETRY_MAX_S = 5.0


def _hint_for(frame: WireFrame, evidence: Evidence) -> str:
    stream = next((s for s in evidence.streams if frame in s.frames), None)
    return stream_header_hint(stream.response_headers) if stream is not None else ""


def buffered_stream(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """Frames reached the page in one late burst, or are overdue on a stream the page still holds.

    Compares the backend's send times with the page's dispatch times (one clock, see harness.evidence).
    """
    pairs = evidence.pairs()
    late = [(f, d) for f, d in pairs if d.t - f.t >= BUFFERED_LAG_S]
    if len(late) >= 2:
        sent_span = late[-1][0].t - late[0][0].t
        seen_span = max(d.t for _, d in late) - min(d.t for _, d in late)
        if sent_span >= BUFFERED_LAG_S and seen_span <= sent_span / 4:
            lag = min(d.t for _, d in late) - late[0][0].t
            return Diagnosis(
                "buffered_stream",
                f"{kinds(f for f, _ in late).split(' ', 1)[1]} reached the page in one burst {lag:.1f} s after the "
                f"first was sent: the stream is buffered between backend and browser{_hint_for(late[0][0], evidence)}",
                [f"sent over {sent_span:.2f} s, dispatched within {seen_span:.2f} s"],
            )
    matched = {id(f) for f, _ in pairs}
    for stream in evidence.event_streams():
        source = evidence.source_for(stream)
        if stream.ended_by is not None or source is None or evidence.closed_at(source) is not None:
            continue
        if evidence.left_page_at(source) is not None:
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
                f"backend sent {kinds(overdue)} on the open stream {stream.path} (the first {age:.1f} s before "
                f"the failure) but none reached the page: the stream is buffered between backend and browser"
                f"{stream_header_hint(stream.response_headers)}",
            )
    for stream in evidence.event_streams():
        age = evidence.collected_at - (stream.response_started_at or stream.opened_at)
        # A stream's first poll sends the current state at once: open STALLED_AGE_S with bytes (a
        # `retry:`, heartbeats) but no event, it withholds what the page is waiting for.
        if (
            stream.ended_by is None
            and stream.status == 200
            and not stream.events
            and stream.bytes_sent
            and age >= STALLED_AGE_S
        ):
            kinds_sent = describe_sequence(f.kind for f in stream.frames)
            return Diagnosis(
                "silent_stream",
                f"the stream {stream.path} has been open {age:.1f} s and sent no event, only [{kinds_sent}]: the "
                "backend does not send the state the page is waiting for",
            )
        if stream.ended_by is None and stream.status == 200 and stream.bytes_sent == 0 and age >= STALLED_AGE_S:
            return Diagnosis(
                "buffered_stream",
                f"the stream {stream.path} has been open {age:.1f} s and not one byte of its body has left the "
                "backend: the response is held back inside the backend (a buffering middleware or a "
                "generator that never yields)",
            )
    return None


def disconnect_not_noticed(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page closed its EventSource or left, and the backend still holds that stream open."""
    for stream in evidence.event_streams():
        source = evidence.source_for(stream)
        if stream.ended_by is not None or source is None:
            continue
        closed = evidence.closed_at(source)
        gone = [t for t in (closed, evidence.left_page_at(source)) if t is not None]
        if not gone:
            continue
        age = evidence.collected_at - min(gone)
        if age >= STALLED_AGE_S:
            how = "closed its EventSource" if closed == min(gone) else "left the page"
            return Diagnosis(
                "disconnect_not_noticed",
                f"the page {how} {age:.1f} s before the failure, but the backend still holds the stream "
                f"{stream.path} open: it has not noticed that the client disconnected, so it keeps polling "
                "for nobody (a leak)",
            )
    return None


def idle_cut(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """A quiet stream cut from the client side while the page still wanted it; the page reconnected."""
    for stream in evidence.event_streams():
        if stream.ended_by != "client_disconnect" or stream.closed_at is None:
            continue
        page_closed = evidence.closed_at(evidence.source_for(stream))
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
            f"reconnected ({evidence.connections_to(stream.path)} stream connections): {why}; an idle timeout "
            "between backend and browser closes quiet streams",
        )
    return None


def stream_kept_open_after_done(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The backend sent `done` and did not end the response (it ended only when the client left, or not yet)."""
    for stream in evidence.event_streams():
        done = next((f for f in stream.events if f.event == contract.events.done), None)
        if done is None:
            continue
        end = (
            stream.closed_at if stream.ended_by is not None and stream.closed_at is not None else evidence.collected_at
        )
        held = end - done.t
        if (stream.ended_by is None or stream.ended_by == "client_disconnect") and held >= STALLED_AGE_S:
            how = "until the client left" if stream.ended_by else "and still holds it open"
            return Diagnosis(
                "stream_kept_open_after_done",
                f"the backend sent `{done.event}` on {stream.path} and kept the response open {held:.1f} s {how}: "
                "the stream must end after its last event (a client that does not close holds a connection for "
                "nothing, and EventSource reconnects only when it ends)",
            )
    return None


def retry_too_long(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The stream's `retry:` makes the browser wait far longer than the app declares before reconnecting."""
    declared = contract.timings.retry_ms or 3000
    dropped = any(d.type == "error" and not d.message_event for d in evidence.eventsource.dispatches)
    for stream in evidence.streams:
        for frame in stream.frames:
            if frame.kind == "retry" and frame.retry_ms is not None and frame.retry_ms > max(10 * declared, 30_000):
                if not dropped:
                    return None
                return Diagnosis(
                    "retry_too_long",
                    f"the stream {stream.path} sets `retry: {frame.retry_ms}` (the app declares {declared} ms): after "
                    f"a dropped connection the browser waits {frame.retry_ms / 1000:.0f} s before reconnecting, so the "
                    "page gives up or hangs first",
                )
    return None


def reconnect_pending(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
    """The page's EventSource lost its stream and was still waiting to reconnect when the test gave up,
    because the stream's reconnection time is not the one the app declares: no `retry:` reached the
    browser (so its own default applies), or a longer one did."""
    declared = contract.timings.retry_ms
    if declared is None:
        return None  # the app relies on the browser's default: waiting for it is no fault of the stream
    for source in evidence.eventsource.sources:
        drops = [
            d
            for d in evidence.eventsource.dispatches
            if d.source_id == source.source_id and d.type == "error" and not d.message_event and d.ready_state == 0
        ]
        if not drops or evidence.closed_at(source) is not None or evidence.left_page_at(source) is not None:
            continue
        drop, path = drops[-1], path_of(source.resolved_url)
        if _reconnected(evidence, source, drop.t):
            continue
        waited = evidence.collected_at - drop.t
        retries = [
            f.retry_ms
            for stream in evidence.streams
            if stream.path == path and stream.opened_at <= drop.t
            for f in stream.frames
            if f.kind == "retry" and f.retry_ms is not None
        ]
        if waited * 1000 <= declared:
            continue  # not even the declared delay has passed: too early to blame the delay
        if retries:
            if retries[-1] <= declared or waited * 1000 >= retries[-1]:
                continue
            cause = f"the stream set `retry: {retries[-1]}`, the app declares {declared} ms"
        elif waited < _BROWSER_DEFAULT_RETRY_MAX_S:
            cause = (
                f"no `retry:` reached the browser (the app declares {declared} ms), so its default reconnection "
                f"time applies ({_BROWSER_DEFAULT_RETRY})"
            )
        else:
            continue
        return Diagnosis(
            "reconnect_pending",
            f"the page's EventSource lost {path} {waited:.1f} s before the failure and was still waiting to "
            f"reconnect: {cause}",
        )
    return None


def _reconnected(evidence: Evidence, source: PageEventSource, after: float) -> bool:
    path = path_of(source.resolved_url)
    return any(s.path == path and s.opened_at > after for s in evidence.streams) or any(
        path_of(r.url) == path and r.t > after for r in evidence.stream_connections()
    )
