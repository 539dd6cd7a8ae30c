"""The one-line diagnosis, on evidence recorded from real runs and on evidence built from it.

tests/evidence_samples/ holds Evidence JSON recorded by the gate itself:
- `gate_*`: the e2e gate failing against one client or backend mutant (e2e/mutants/), each the
  failure the rule named in RECORDED must explain;
- `healthy_gate_*`: passing gate tests (happy path, and recoveries such as a backend restart,
  a Redis outage or a quiet stream kept alive by heartbeats): no rule may fire on them;
- `named_event_mismatch` / `healthy`: the page-recorder tests' own runs (tests/test_page_recorder.py).
Rules without a mutant of their own are tested on a healthy sample edited into the failing shape.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.diagnosis import RULES, Diagnosis, Rule, diagnose
from harness.evidence import (
    ConsoleEntry,
    Evidence,
    HttpExchange,
    Navigation,
    PageClose,
    PageDispatch,
    PageRequest,
    WireFrame,
    WireStream,
)

SAMPLES = Path(__file__).with_name("evidence_samples")

# sample -> (rule that must explain it, fragments its line must contain)
RECORDED: dict[str, tuple[str, list[str]]] = {
    "named_event_mismatch": (
        "named_event_mismatch",
        [
            "backend sent named events [started, progress x3, success, done]; the page listens only for "
            "'message' (onmessage): 0 of 6 delivered (named-event mismatch)"
        ],
    ),
    "gate_original_onmessage": ("named_event_mismatch", ["only for 'message' (onmessage): 0 of 2 delivered"]),
    "gate_drops_progress": ("named_event_mismatch", ["1 of 2 delivered; no listener for 'progress'"]),
    "gate_unnamed_events": ("payload_drift", ["without an `event:` name"]),
    "gate_renamed_success": ("payload_drift", ["event `complete`, which is not in the protocol"]),
    "gate_done_without_data": ("event_without_data", ["1 event(s) without a data line [done]"]),
    "gate_first_progress_only": (
        "status_not_rendered",
        ["received `progress` 'Outlining 3 key points...' but the page still shows 'Analyzing the campaign brief...'"],
    ),
    "gate_never_closes_success": ("reconnect_after_end", ["received `success` but did not close()"]),
    "gate_never_closes_backend_gone": ("endless_reconnects", ["6 stream connections", "net::ERR_CONNECTION_REFUSED"]),
    "gate_server_error_as_connection_lost": (
        "server_error_as_connection_lost",
        ["'The model is overloaded: try again in a minute.'", "'Connection lost. Please try again.'"],
    ),
    "gate_server_error_client_restart": (
        "gave_up_on_transport_error",
        ["net::ERR_INCOMPLETE_CHUNKED_ENCODING", "closed it at once"],
    ),
    "gate_reconnects_forever_proxy_502": (
        "stream_not_event_stream",
        ["answered 502 text/plain", "by something other than the backend", "the page shows no error"],
    ),
    "gate_wrong_draft_id_field": (
        "wrong_field",
        ["it went to /dashboard/drafts/undefined/edit; payload keys: type, draft"],
    ),
    "gate_unknown_task_200_stream": (
        "unknown_task_stream",
        ["task 'no-such-task-0000000' of campaign 'spring-launch', which this test never created, with 200"],
    ),
    "gate_buffered_in_backend": ("buffered_stream", ["not one byte of its body has left the backend"]),
    "gate_gzip_stream": ("compressed_stream", ["Content-Encoding: gzip"]),
    "gate_wrong_content_type": ("stream_not_event_stream", ["answered 200 text/plain"]),
    "gate_no_accel_behind_buffering_proxy": (
        "buffered_stream",
        ["backend sent 1 progress event on the open stream", "none reached the page", "X-Accel-Buffering"],
    ),
    "gate_no_accel_headers": ("stream_headers_missing", ["lacks x-accel-buffering: no"]),
    "gate_no_cors_on_stream": ("cors_blocked", ["has no Access-Control-Allow-Origin for the page origin"]),
    "gate_no_heartbeats": ("idle_cut", ["cut from the client side after 0.5 s", "no heartbeat comments"]),
    "gate_success_before_saved": ("success_before_saved", ["answered 404", "after the backend sent `success`"]),
}

HEALTHY = sorted(p.stem for p in SAMPLES.glob("healthy*.json"))


def load(name: str) -> Evidence:
    return Evidence.from_json(json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8")))


def _rule(name: str) -> Rule:
    return next(rule for rule in RULES if rule.__name__ == name)


# --- Recorded evidence ------------------------------------------------------------------------------


def test_every_recorded_sample_has_an_expectation() -> None:
    on_disk = {p.stem for p in SAMPLES.glob("*.json")} - set(HEALTHY)
    assert on_disk == set(RECORDED), on_disk ^ set(RECORDED)


@pytest.mark.parametrize("sample", sorted(RECORDED))
def test_recorded_failure_is_explained(sample: str) -> None:
    rule, fragments = RECORDED[sample]
    diagnosis = diagnose(load(sample))
    assert diagnosis.rule == rule, diagnosis.line
    for fragment in fragments:
        assert fragment in diagnosis.line, diagnosis.line


@pytest.mark.parametrize("sample", HEALTHY)
def test_no_rule_fires_on_a_healthy_run(sample: str) -> None:
    evidence = load(sample)
    fired = {rule.__name__: found.line for rule in RULES if (found := rule(evidence)) is not None}
    assert fired == {}
    assert diagnose(evidence).rule == "summary"


def test_healthy_samples_cover_the_happy_path_and_recoveries() -> None:
    assert {"healthy", "healthy_gate_generate_flow", "healthy_gate_backend_restart"} <= set(HEALTHY)


# --- Edited evidence, one rule at a time -----------------------------------------------------------
# `healthy` is the page-recorder test's fixed client: started, progress x3, success (close, redirect),
# done, all on one stream; every edit below turns it into exactly one failure.


@pytest.fixture
def healthy() -> Evidence:
    return load("healthy")


def _stream(evidence: Evidence) -> WireStream:
    return evidence.streams[0]


def _frame(evidence: Evidence, event: str) -> WireFrame:
    return next(f for f in _stream(evidence).frames if f.event == event)


def _replace_frame(evidence: Evidence, of_type: str, **changes: Any) -> None:
    stream = _stream(evidence)
    stream.frames = [replace(f, **changes) if f.event == of_type else f for f in stream.frames]


def test_cors_rule(healthy: Evidence) -> None:
    stream = _stream(healthy)
    stream.origin, stream.host = "http://127.0.0.1:5001", "127.0.0.1:8000"
    found = _rule("cors_blocked")(healthy)
    assert found is not None and "for the page origin http://127.0.0.1:5001 (it sent None)" in found.line

    stream.response_headers["access-control-allow-origin"] = "http://127.0.0.1:5001"
    assert _rule("cors_blocked")(healthy) is None

    healthy.eventsource.sources[0].with_credentials = True  # needs credentials allowed too
    assert _rule("cors_blocked")(healthy) is not None


def test_cors_rule_ignores_same_origin_requests_with_an_origin_header(healthy: Evidence) -> None:
    stream = _stream(healthy)
    stream.origin, stream.host = "http://127.0.0.1:8000", "127.0.0.1:8000"
    assert _rule("cors_blocked")(healthy) is None


def test_cors_rule_on_a_console_message_alone(healthy: Evidence) -> None:
    text = "Access to resource at 'http://a/x' from origin 'http://b' has been blocked by CORS policy: No ..."
    healthy.console.append(ConsoleEntry(type="error", text=text, t=0.0))
    found = _rule("cors_blocked")(healthy)
    assert found is not None and "blocked by CORS policy" in found.line


def test_stream_broke(healthy: Evidence) -> None:
    stream = _stream(healthy)
    stream.ended_by, stream.error = "error", "ConnectionError: Redis went away"
    found = _rule("stream_broke")(healthy)
    assert found is not None and "broke in the backend after 6 events" in found.line
    assert "ConnectionError: Redis went away" in found.line
    # A server shutdown cancels open streams: that is a restart, not a broken stream.
    stream.error = "CancelledError: "
    assert _rule("stream_broke")(healthy) is None


def test_unterminated_final_event(healthy: Evidence) -> None:
    stream = _stream(healthy)
    stream.frames.append(WireFrame(t=stream.frames[-1].t, kind="unterminated", event="success", data='{"type"'))
    found = _rule("unterminated_event")(healthy)
    assert found is not None and "inside its `success` event" in found.line
    stream.ended_by = "client_disconnect"  # the page left mid-event: nothing wrong with the server
    assert _rule("unterminated_event")(healthy) is None


def test_payload_that_is_not_json(healthy: Evidence) -> None:
    _replace_frame(healthy, "started", data="{'type': 'status', 'message': 'Starting'}")
    found = _rule("payload_drift")(healthy)
    assert found is not None and "`started` with data that is not JSON" in found.line


def test_payload_with_a_renamed_field(healthy: Evidence) -> None:
    success = _frame(healthy, "success")
    payload = json.loads(success.data or "")
    payload["result"] = {"draft_id": payload.pop("draft")["id"]}
    _replace_frame(healthy, "success", data=json.dumps(payload))
    found = _rule("payload_drift")(healthy)
    assert found is not None
    assert "`success` with data that does not match CompleteEvent: draft: Field required" in found.line
    assert "payload keys: type, result" in found.line


def test_named_event_mismatch_stays_silent_for_done_after_close(healthy: Evidence) -> None:
    # The fixed client does not listen for `done`: it closed on `success`, so `done` never arrives.
    assert "done" not in healthy.eventsource.listened_types()
    assert _rule("named_event_mismatch")(healthy) is None
    # Had `done` been dispatched to nobody before the terminal event, that would be a mismatch.
    source_id = healthy.eventsource.sources[0].source_id
    early_done = PageDispatch(source_id=source_id, type="done", t=0.0, data="{}", message_event=True)
    healthy.eventsource.dispatches.insert(0, early_done)
    assert _rule("named_event_mismatch")(healthy) is not None


def test_server_error_shown_as_connection_lost(healthy: Evidence) -> None:
    message = "The model is overloaded."
    _replace_frame(healthy, "success", event="error", data=json.dumps({"type": "error", "message": message}))
    healthy.page_alert_text = "Connection lost. Please try again."
    found = _rule("server_error_as_connection_lost")(healthy)
    assert found is not None and repr(message) in found.line
    healthy.page_alert_text = message
    assert _rule("server_error_as_connection_lost")(healthy) is None


def test_wrong_field_needs_a_bad_id_after_success(healthy: Evidence) -> None:
    after = _frame(healthy, "success").t + 0.01
    healthy.navigations.append(Navigation(url="http://127.0.0.1:1/drafts/d-42/edit", t=after))
    assert _rule("wrong_field")(healthy) is None
    healthy.navigations.append(Navigation(url="http://127.0.0.1:1/drafts/null/edit", t=after))
    found = _rule("wrong_field")(healthy)
    assert found is not None and "/drafts/null/edit; payload keys: type, draft (draft.id is 'd-42')" in found.line


def test_success_before_saved(healthy: Evidence) -> None:
    t = _frame(healthy, "success").t + 0.05
    lookup = HttpExchange(exchange_id=99, method="GET", path="/v1/drafts/d-42", query="", t=t, status=200)
    healthy.http_exchanges.append(lookup)
    assert _rule("success_before_saved")(healthy) is None
    healthy.http_exchanges.append(replace(lookup, exchange_id=100, status=404))
    found = _rule("success_before_saved")(healthy)
    assert found is not None and "GET /v1/drafts/d-42 answered 404 0.05 s after" in found.line


def test_page_error_names_the_first(healthy: Evidence) -> None:
    parse_error = "SyntaxError: Unexpected token ''', \"{'type'\"... is not valid JSON"
    healthy.console += [
        ConsoleEntry(type="pageerror", text=parse_error, t=1.0, location="http://127.0.0.1:1/app.js:10:5"),
        ConsoleEntry(type="pageerror", text="TypeError: x is undefined", t=2.0),
    ]
    found = _rule("page_error")(healthy)
    assert found is not None
    assert found.line.startswith("uncaught error in the page: SyntaxError: Unexpected token")
    assert "at http://127.0.0.1:1/app.js:10:5 (first of 2)" in found.line


def test_buffered_burst(healthy: Evidence) -> None:
    # Spread the sends over 1.5 s and deliver everything 2 s after the first, within 10 ms.
    stream = _stream(healthy)
    base = stream.frames[0].t
    stream.frames = [replace(f, t=base + 0.3 * i) for i, f in enumerate(stream.frames)]
    arrival = base + 2.0
    healthy.eventsource.dispatches = [
        replace(d, t=arrival + 0.002 * i) for i, d in enumerate(healthy.eventsource.dispatches)
    ]
    found = _rule("buffered_stream")(healthy)
    assert found is not None
    assert "reached the page in one burst" in found.line and "after the first was sent" in found.line


def test_buffered_stream_stays_silent_when_arrivals_follow_sends(healthy: Evidence) -> None:
    stream = _stream(healthy)
    base = stream.frames[0].t
    stream.frames = [replace(f, t=base + 0.3 * i) for i, f in enumerate(stream.frames)]
    by_data = {(f.event, f.data): f.t for f in stream.frames}
    healthy.eventsource.dispatches = [
        replace(d, t=by_data.get((d.type, d.data), d.t) + 0.004) for d in healthy.eventsource.dispatches
    ]
    assert _rule("buffered_stream")(healthy) is None


def test_disconnect_not_noticed_when_the_page_left_and_the_stream_stays_open(healthy: Evidence) -> None:
    # The page navigates away mid-stream; the backend never sees the disconnect.
    stream = _stream(healthy)
    stream.ended_by, stream.closed_at = None, None
    stream.frames = [f for f in stream.frames if f.event in ("started", "progress")]
    healthy.eventsource.closes = []
    left = stream.frames[-1].t + 0.1
    healthy.navigations = [*healthy.navigations, Navigation(url="about:blank", t=left)]
    healthy.collected_at = left + 3.0
    found = diagnose(healthy)
    assert found.rule == "disconnect_not_noticed", found
    assert "left the page 3.0 s before the failure" in found.line
    assert _rule("buffered_stream")(healthy) is None


def test_idle_cut_with_rare_heartbeats(healthy: Evidence) -> None:
    stream = _stream(healthy)
    # The page never got further than `started`; the stream went quiet and was cut 3 s later.
    stream.frames = stream.frames[:3]  # retry, started, heartbeat comment
    stream.ended_by, stream.closed_at = "client_disconnect", stream.frames[-1].t + 3.0
    healthy.eventsource.closes = []
    reconnect = replace(stream, stream_id=stream.stream_id + 1, opened_at=stream.closed_at + 0.3)
    reconnect.frames, reconnect.ended_by, reconnect.closed_at = [], None, None
    healthy.streams.append(reconnect)
    found = _rule("idle_cut")(healthy)
    assert found is not None and "after 3.0 s without a byte" in found.line
    assert "1 heartbeat(s) sent, but none in the last 3.0 s" in found.line
    # Without a reconnect after it, a client-side close is the page or the test leaving.
    healthy.streams.pop()
    assert _rule("idle_cut")(healthy) is None


def test_reconnect_after_end_counts_connections(healthy: Evidence) -> None:
    stream = _stream(healthy)
    healthy.eventsource.closes = []
    again = replace(stream, stream_id=stream.stream_id + 1, opened_at=(stream.closed_at or 0) + 0.3)
    healthy.streams += [again, replace(again, stream_id=again.stream_id + 1, opened_at=again.opened_at + 0.3)]
    found = _rule("reconnect_after_end")(healthy)
    assert found is not None and found.line.startswith("the page opened 3 stream connections for one generation")


def test_reconnect_after_end_accepts_a_close_that_follows_the_servers_end(healthy: Evidence) -> None:
    # The server ends right after `done`; the page's close() typically lands a few ms later.
    stream = _stream(healthy)
    [close] = healthy.eventsource.closes
    healthy.eventsource.closes = [replace(close, t=(stream.closed_at or 0) + 0.01)]
    assert _rule("reconnect_after_end")(healthy) is None


def test_unknown_task_loop_without_a_generate_request(healthy: Evidence) -> None:
    error = json.dumps({"type": "error", "message": "This generation task no longer exists."})
    stream = _stream(healthy)
    stream.frames = [
        WireFrame(t=stream.opened_at, kind="event", event="error", data=error),
        WireFrame(t=stream.opened_at, kind="event", event="done", data="{}"),
    ]
    healthy.streams += [replace(stream, stream_id=stream.stream_id + i) for i in (1, 2)]
    found = _rule("unknown_task_stream")(healthy)
    assert found is not None and "'This generation task no longer exists.'" in found.line
    assert "reconnected (3 stream connections)" in found.line


def test_gave_up_needs_the_close_in_the_first_transport_error(healthy: Evidence) -> None:
    source = healthy.eventsource.sources[0]
    error = PageDispatch(source_id=source.source_id, type="error", t=100.0, ready_state=0, listeners_called=1)
    healthy.eventsource.dispatches.append(error)
    healthy.eventsource.closes = [PageClose(source_id=source.source_id, t=100.001, ready_state_before=0)]
    assert _rule("gave_up_on_transport_error")(healthy) is not None
    # Closing after its own timeout (here 4 s later) is giving up properly.
    healthy.eventsource.closes = [PageClose(source_id=source.source_id, t=104.0, ready_state_before=0)]
    assert _rule("gave_up_on_transport_error")(healthy) is None


def test_endless_reconnects_needs_failures_and_no_close(healthy: Evidence) -> None:
    url = healthy.eventsource.sources[0].resolved_url
    failing = PageRequest(
        url=url, method="GET", resource_type="eventsource", t=1.0, failure="net::ERR_CONNECTION_REFUSED"
    )
    healthy.page_requests += [failing, failing, failing]
    assert _rule("endless_reconnects")(healthy) is None, "the page did close() it"
    healthy.eventsource.closes = []
    found = _rule("endless_reconnects")(healthy)
    assert found is not None and "opened 4 stream connections" in found.line
    assert "3 with net::ERR_CONNECTION_REFUSED" in found.line


def test_status_not_rendered_ignores_the_expected_text_in_the_failure_message() -> None:
    evidence = load("gate_first_progress_only")
    assert "Outlining 3 key points" in evidence.failure_text  # Playwright's "expected" text
    assert _rule("status_not_rendered")(evidence) is not None
    evidence.page_status_text = "Outlining 3 key points..."
    assert _rule("status_not_rendered")(evidence) is None


# --- The whole diagnosis --------------------------------------------------------------------------


def test_first_matching_rule_wins() -> None:
    # The onmessage page also reconnected after the end: the named-event mismatch is the cause.
    evidence = load("named_event_mismatch")
    assert _rule("reconnect_after_end")(evidence) is not None
    assert diagnose(evidence).rule == "named_event_mismatch"


def test_summary_when_no_rule_matches(healthy: Evidence) -> None:
    healthy.console.append(ConsoleEntry(type="error", text="Something odd", t=0.0))
    diagnosis = diagnose(healthy)
    assert diagnosis.rule == "summary"
    assert diagnosis.line == (
        "no rule matched: backend sent [started, progress x3, success, done]; page received "
        "[started, progress x3, success]; 1 stream connection(s); last console error: Something odd"
    )


def test_details_carry_the_context(healthy: Evidence) -> None:
    details = diagnose(load("named_event_mismatch")).details
    assert any(d.startswith("wire: #") and "6 events [started, progress x3, success, done]" in d for d in details)
    page = "page: 1 EventSource(s), listens for [message (onmessage), error (onerror)]"
    assert any(d.startswith(page) for d in details)
    assert "page shows alert: 'Connection lost'" in details


def test_a_crashing_rule_is_skipped_not_raised(healthy: Evidence) -> None:
    def broken(evidence: Evidence) -> Diagnosis | None:
        raise KeyError("boom")

    diagnosis = diagnose(healthy, rules=[broken, *RULES])
    assert diagnosis.rule == "summary"
    assert "rule broken skipped: KeyError: 'boom'" in diagnosis.details


def test_empty_evidence_gets_a_summary() -> None:
    diagnosis = diagnose(Evidence())
    assert diagnosis.line == "no rule matched: backend sent []; page received []; 0 stream connection(s)"


# --- Evidence files ---------------------------------------------------------------------------------


def test_write_produces_every_file_and_loads_back(tmp_path: Path) -> None:
    evidence = load("named_event_mismatch")
    evidence.backend_log = ["INFO drafts_api: stream opened"]
    out = evidence.write(tmp_path / "case")
    names = {p.name for p in out.iterdir()}
    assert names == {
        "wire.jsonl",
        "streams.json",
        "page-eventsource.json",
        "console.log",
        "requests.json",
        "backend.log",
        "diagnosis.txt",
        "evidence.json",
    }
    rows = [json.loads(line) for line in (out / "wire.jsonl").read_text().splitlines()]
    assert len(rows) == sum(len(s.frames) for s in evidence.streams)
    assert {"stream", "path", "wall", "t", "kind", "event", "data", "id"} <= set(rows[0])
    streams = json.loads((out / "streams.json").read_text())
    assert [s["frame_count"] for s in streams["streams"]] == [len(s.frames) for s in evidence.streams]
    assert "frames" not in streams["streams"][0]
    assert (out / "diagnosis.txt").read_text().startswith("[named_event_mismatch] backend sent named events")
    assert (out / "backend.log").read_text() == "INFO drafts_api: stream opened\n"
    assert Evidence.load(out) == evidence


def test_summary_is_a_few_lines_led_by_the_diagnosis() -> None:
    summary = load("named_event_mismatch").summary().splitlines()
    assert summary[0].startswith("diagnosis: backend sent named events [started, progress x3, success, done]")
    assert 3 <= len(summary) <= 5
