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
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.contract import DRAFTS_API, AppContract, EventNames, PayloadPaths, Timings
from harness.diagnosis import FILES, LAST_RESORT, RULES, Diagnosis, Rule, diagnose, summary, write_report
from harness.evidence import (
    SCHEMA_VERSION,
    ConsoleEntry,
    Evidence,
    EvidenceSchemaError,
    HttpExchange,
    Navigation,
    PageClose,
    PageDispatch,
    PageRequest,
    WireFrame,
    WireStream,
)
from harness.plugin import TEST_HEARTBEAT_POLLS, TEST_RETRY_MS

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
    "gate_original_onmessage": ("named_event_mismatch", ["only for 'message' (onmessage): 0 of "]),
    "gate_drops_progress": ("named_event_mismatch", ["1 of 2 delivered; no listener for 'progress'"]),
    "gate_unnamed_events": ("event_name_drift", ["without an `event:` name"]),
    "gate_renamed_success": ("event_name_drift", ["event `complete`, which is not in the contract"]),
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
    "gate_success_before_saved": ("draft_not_loaded", ["answered 404", "after the backend sent `success`"]),
}

HEALTHY = sorted(p.stem for p in SAMPLES.glob("healthy*.json"))  # passing tests: no fault rule may fire

# The contract the gate's samples were recorded under: drafts_api with the harness's test timings
# (harness/plugin/_fixtures.py `gate_contract`, the default `gate_poll_interval` of 0.05 s).
GATE_CONTRACT = replace(
    DRAFTS_API,
    timings=Timings(poll_interval_s=0.05, heartbeat_interval_s=0.05 * TEST_HEARTBEAT_POLLS, retry_ms=TEST_RETRY_MS),
)


def load(name: str) -> Evidence:
    return Evidence.load(SAMPLES / f"{name}.json")


def _raw(name: str) -> Rule:
    return next(rule for rule in (*RULES, *LAST_RESORT) if rule.__name__ == name)


def _rule(name: str) -> Callable[[Evidence], Diagnosis | None]:
    """The rule called `name`, applied under our app's contract."""
    rule = _raw(name)
    return lambda evidence: rule(evidence, DRAFTS_API)


# --- Recorded evidence ------------------------------------------------------------------------------


# Written by `python -m e2e.mutants --record-samples`: sample -> the rule that diagnosed it when recorded.
INDEX: dict[str, dict[str, str]] = (
    json.loads((SAMPLES / "index.json").read_text(encoding="utf-8")) if (SAMPLES / "index.json").is_file() else {}
)


def test_every_recorded_sample_has_an_expectation() -> None:
    on_disk = {p.stem for p in SAMPLES.glob("*.json")} - set(HEALTHY) - {"index"}
    assert on_disk <= set(RECORDED) | set(INDEX), on_disk - set(RECORDED) - set(INDEX)


@pytest.mark.parametrize("sample", sorted(name for name, entry in INDEX.items() if entry["rule"]))
def test_a_re_recorded_kill_is_still_diagnosed_by_the_same_rule(sample: str) -> None:
    """Fails if: a rule change moves a recorded kill to another rule (or to the fallback) unnoticed."""
    assert diagnose(load(sample), GATE_CONTRACT).rule == INDEX[sample]["rule"], INDEX[sample]["line"]


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
    fired = {
        f"{rule.__name__} ({contract.timings})": found.line
        for contract in (DRAFTS_API, GATE_CONTRACT)
        for rule in RULES
        if (found := rule(evidence, contract)) is not None
    }
    assert fired == {}
    # A healthy stream is described, never blamed: only a last-resort line or the plain summary.
    assert diagnose(evidence, GATE_CONTRACT).rule in {"summary", *(rule.__name__ for rule in LAST_RESORT)}


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
    assert "`success` with data that has no `draft.id` (the draft id)" in found.line
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
    assert _rule("draft_not_loaded")(healthy) is None
    healthy.http_exchanges.append(replace(lookup, exchange_id=100, status=404))
    found = _rule("draft_not_loaded")(healthy)
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
    healthy.eventsource.dispatches = []  # nothing reached the page, and no rule knows why
    diagnosis = diagnose(healthy)
    assert diagnosis.rule == "summary"
    assert diagnosis.line == (
        "no rule matched: backend sent [started, progress x3, success, done]; page received "
        "[]; 1 stream connection(s); last console error: Something odd"
    )


def test_a_healthy_stream_says_so_and_names_the_failure_elsewhere(healthy: Evidence) -> None:
    """Fails if: a failure away from the stream (an editor field, an input) gets the fallback summary."""
    healthy.failure_text = "Locator expected to have value 'Body text'\nActual value: ''"
    diagnosis = diagnose(healthy)
    assert diagnosis.rule == "stream_healthy"
    assert diagnosis.line.startswith("stream healthy: the backend sent [started, progress, success, done]")
    assert diagnosis.line.endswith("the failure is elsewhere: Locator expected to have value 'Body text'")
    healthy.eventsource.dispatches = healthy.eventsource.dispatches[:1]  # events lost: not healthy
    assert _raw("stream_healthy")(healthy, DRAFTS_API) is None


def test_a_failure_before_any_event_was_due_says_the_stream_is_not_at_fault(healthy: Evidence) -> None:
    """Fails if: a test that fails right after the click (an input lost on its way) gets the fallback,
    or the line also covers a stream that had time to send, sent something, or failed."""
    source = healthy.eventsource.sources[0]
    healthy.streams, healthy.navigations = [], []  # the stream request not even answered yet
    healthy.eventsource.dispatches, healthy.eventsource.closes = [], []
    healthy.failure_text = "AssertionError: form inputs that did not reach the generator as typed: {'audience': ...}"
    healthy.collected_at = source.t + 0.3
    diagnosis = diagnose(healthy)
    assert diagnosis.rule == "failed_before_the_stream", diagnosis.line
    assert diagnosis.line == (
        "stream not at fault: the test failed 0.3 s after the page opened its EventSource, before any event "
        "was due; the failure is elsewhere: AssertionError: form inputs that did not reach the generator as "
        "typed: {'audience': ...}"
    )
    rule = _raw("failed_before_the_stream")
    healthy.collected_at = source.t + 1.5
    assert rule(healthy, DRAFTS_API) is None, "a first event could be overdue by now"
    healthy.collected_at = source.t + 0.3
    healthy.eventsource.dispatches = [PageDispatch(source_id=source.source_id, type="error", t=source.t + 0.1)]
    assert rule(healthy, DRAFTS_API) is None, "the stream already failed"
    healthy.eventsource.dispatches = []
    healthy.streams = [replace(_stream(load("healthy")), ended_by=None, closed_at=None)]
    assert rule(healthy, DRAFTS_API) is None, "events were sent: stream_healthy's or a fault rule's case"


def test_details_carry_the_context(healthy: Evidence) -> None:
    details = diagnose(load("named_event_mismatch")).details
    assert any(d.startswith("wire: #") and "6 events [started, progress x3, success, done]" in d for d in details)
    page = "page: 1 EventSource(s), listens for [message (onmessage), error (onerror)]"
    assert any(d.startswith(page) for d in details)
    assert "page shows alert: 'Connection lost'" in details


def test_a_crashing_rule_is_skipped_not_raised(healthy: Evidence) -> None:
    def broken(evidence: Evidence, contract: AppContract) -> Diagnosis | None:
        raise KeyError("boom")

    diagnosis = diagnose(healthy, rules=[broken, *RULES])
    assert diagnosis.rule == "stream_healthy"
    assert "rule broken skipped: KeyError: 'boom'" in diagnosis.details


def test_empty_evidence_gets_a_summary() -> None:
    diagnosis = diagnose(Evidence())
    assert diagnosis.line == "no rule matched: backend sent []; page received []; 0 stream connection(s)"


# --- Evidence files ---------------------------------------------------------------------------------


def test_write_produces_every_file_and_loads_back(tmp_path: Path) -> None:
    evidence = load("named_event_mismatch")
    evidence.backend_log = ["INFO drafts_api: stream opened"]
    out = write_report(evidence, diagnose(evidence), tmp_path / "case")
    names = {p.name for p in out.iterdir()}
    assert names == set(FILES)
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
    evidence = load("named_event_mismatch")
    lines = summary(evidence, diagnose(evidence)).splitlines()
    assert lines[0].startswith("diagnosis: backend sent named events [started, progress x3, success, done]")
    assert 3 <= len(lines) <= 5


def test_the_report_uses_the_diagnosis_it_is_given(tmp_path: Path) -> None:
    """Fails if: the report diagnoses again instead of showing the one diagnosis made per failure."""
    evidence = load("named_event_mismatch")
    given = Diagnosis("given_rule", "the line the collector computed", ["a detail"])
    out = write_report(evidence, given, tmp_path / "case")
    assert (out / "diagnosis.txt").read_text() == "[given_rule] the line the collector computed\n  - a detail\n"
    assert summary(evidence, given).splitlines()[0] == "diagnosis: the line the collector computed"


def test_evidence_of_another_schema_version_is_refused_naming_both(tmp_path: Path) -> None:
    data = load("healthy").to_json()
    data.pop("schema_version")  # as the files written before the field existed
    (tmp_path / "old.json").write_text(json.dumps(data))
    with pytest.raises(EvidenceSchemaError, match=f"schema version 1, this harness reads version {SCHEMA_VERSION}"):
        Evidence.load(tmp_path / "old.json")
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(EvidenceSchemaError, match=f"version {SCHEMA_VERSION + 1}, this harness reads"):
        Evidence.from_json(data)


def test_evidence_does_not_import_the_diagnosis() -> None:
    """Fails if: evidence and diagnosis import each other again (evidence is plain data)."""
    import ast

    package = Path(__file__).parents[1] / "harness" / "evidence"
    imported = {
        node.module or ""
        for module in package.glob("*.py")
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
    }
    assert not {name for name in imported if name.startswith(("harness.diagnosis", "harness.recording"))}


# --- Ranked by cause, read from the contract --------------------------------------------------------

DIAGNOSIS_PACKAGE = Path(__file__).parents[1] / "harness" / "diagnosis"


def test_no_rule_holds_an_app_specific_literal() -> None:
    """Fails if: a rule hard-codes our app's routes, models or names instead of reading the contract."""
    for module in DIAGNOSIS_PACKAGE.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        for literal in ("/drafts/", "/v1/", "StatusEvent", "CompleteEvent", "drafts_api", "spring-launch"):
            assert literal not in text, f"{module.name} contains {literal!r}"


def test_diagnosis_and_evidence_modules_stay_small() -> None:
    for module in [*DIAGNOSIS_PACKAGE.glob("*.py"), *DIAGNOSIS_PACKAGE.with_name("evidence").glob("*.py")]:
        lines = len(module.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{module.name}: {lines} lines"


def test_payload_paths_come_from_the_contract(healthy: Evidence) -> None:
    """A success payload of another shape is drift for our contract and healthy for one that says so."""
    success = _frame(healthy, "success")
    payload = json.loads(success.data or "")
    payload["result"] = {"draft_ref": payload.pop("draft")["id"]}
    _replace_frame(healthy, "success", data=json.dumps(payload))
    found = _rule("payload_drift")(healthy)
    assert found is not None and "no `draft.id` (the draft id)" in found.line
    theirs = replace(DRAFTS_API, name="theirs", payloads=PayloadPaths(draft_id="result.draft_ref"))
    assert _raw("payload_drift")(healthy, theirs) is None


def test_event_names_come_from_the_contract(healthy: Evidence) -> None:
    """The same wire is drift under our names and healthy under a contract that names `success` `complete`."""
    _replace_frame(healthy, "success", event="complete")
    found = _rule("event_name_drift")(healthy)
    assert found is not None and "event `complete`, which is not in the contract" in found.line
    theirs = replace(DRAFTS_API, name="theirs", events=EventNames(success="complete"))
    assert _raw("event_name_drift")(healthy, theirs) is None


def test_extra_unknown_events_next_to_the_contracts_are_no_drift(healthy: Evidence) -> None:
    stream = _stream(healthy)
    stream.frames = [*stream.frames[:2], WireFrame(t=stream.frames[1].t, kind="event", event="tick", data="{}")]
    stream.frames += _stream(load("healthy")).frames[2:]
    assert _rule("event_name_drift")(healthy) is None


def test_a_listener_mismatch_outranks_a_payload_difference() -> None:
    """Fails if: on the production client the first line names a payload instead of onmessage."""
    evidence = load("named_event_mismatch")
    stream = evidence.streams[0]
    stream.frames = [replace(f, data='{"type": "complete"}') if f.event == "success" else f for f in stream.frames]
    assert _rule("payload_drift")(evidence) is not None
    assert diagnose(evidence).rule == "named_event_mismatch"


def test_a_page_deaf_to_the_contracts_names_is_named_even_without_events(healthy: Evidence) -> None:
    """The production client on a stream that sent nothing (a 404, a saved draft): still onmessage first."""
    evidence = load("named_event_mismatch")
    for stream in evidence.streams:
        stream.frames = []
    found = diagnose(evidence)
    assert found.rule == "named_event_mismatch", found.line
    assert "only for 'message' (onmessage)" in found.line and "never reaches onmessage" in found.line
    assert _rule("named_event_mismatch")(healthy) is None


@pytest.mark.parametrize("status", [404, 405, 500])
def test_an_editor_that_cannot_load_its_draft_is_named_whatever_the_status(healthy: Evidence, status: int) -> None:
    t = _frame(healthy, "success").t + 0.05
    healthy.http_exchanges.append(
        HttpExchange(exchange_id=99, method="GET", path="/v1/drafts/d-42", query="", t=t, status=status)
    )
    found = diagnose(healthy)
    assert found.rule == "draft_not_loaded", found.line
    assert f"GET /v1/drafts/d-42 answered {status}" in found.line


# --- Rules for the classes the generated mutants reach ------------------------------------------------

STREAM = DRAFTS_API.stream.fill(campaign_id="spring-launch", task_id="t-1")


def _generate_exchange(t: float, campaign: str = "spring-launch", task_id: str = "t-1") -> HttpExchange:
    path = DRAFTS_API.generate.fill(campaign_id=campaign)
    body = json.dumps({"task_id": task_id, "stream_url": STREAM})
    return HttpExchange(exchange_id=90, method="POST", path=path, query="", t=t, status=202, body_excerpt=body)


def test_a_task_streamed_under_another_campaign_is_named(healthy: Evidence) -> None:
    stream = _stream(healthy)
    healthy.http_exchanges.append(_generate_exchange(stream.opened_at - 0.1))
    stream.path = DRAFTS_API.stream.fill(campaign_id="spring-launch", task_id="t-1")
    assert _rule("foreign_task_streamed")(healthy) is None
    stream.path = DRAFTS_API.stream.fill(campaign_id="other-campaign", task_id="t-1")
    found = _rule("foreign_task_streamed")(healthy)
    assert found is not None and "created under campaign 'spring-launch', under campaign 'other-campaign'" in found.line


def test_two_generations_in_one_test_are_named(healthy: Evidence) -> None:
    healthy.http_exchanges.append(_generate_exchange(1.0))
    assert _rule("duplicate_generation")(healthy) is None
    healthy.http_exchanges.append(replace(_generate_exchange(1.2), exchange_id=91))
    found = _rule("duplicate_generation")(healthy)
    assert found is not None and found.line.startswith("the page started 2 generations")


def test_an_editor_on_another_route_is_named(healthy: Evidence) -> None:
    after = _frame(healthy, "success").t + 0.01
    healthy.navigations.append(Navigation(url="http://127.0.0.1:1/dashboard/draft/d-42/edit", t=after))
    found = _rule("wrong_editor_route")(healthy)
    assert found is not None and "went to /dashboard/draft/d-42/edit, not the editor route" in found.line


def test_another_draft_served_is_stream_healthy_and_names_the_draft(healthy: Evidence) -> None:
    t = _frame(healthy, "success").t + 0.05
    payload = _frame(healthy, "success").payload()
    stale = {**payload["draft"], "id": "d-41", "title": "An older draft"}
    healthy.http_exchanges.append(
        HttpExchange(98, "GET", "/v1/drafts/d-42", "", t, status=200, body_excerpt=json.dumps(stale))
    )
    found = diagnose(healthy)
    assert found.rule == "draft_mismatch", found.line
    assert found.line.startswith("stream healthy: `success` announced draft 'd-42'")
    assert "answered draft 'd-41' titled 'An older draft'" in found.line


def test_a_stream_kept_open_after_done_is_named(healthy: Evidence) -> None:
    stream = _stream(healthy)
    done = _frame(healthy, "done")
    assert _rule("stream_kept_open_after_done")(healthy) is None
    stream.ended_by, stream.closed_at = None, None
    healthy.collected_at = done.t + 3.0
    found = _rule("stream_kept_open_after_done")(healthy)
    assert found is not None and "kept the response open 3.0 s and still holds it open" in found.line


def test_a_huge_retry_is_named_when_the_connection_dropped(healthy: Evidence) -> None:
    _replace_frame(healthy, "", retry_ms=60000)  # the retry frame has no event name
    assert _rule("retry_too_long")(healthy) is None, "no dropped connection: the retry never mattered"
    source = healthy.eventsource.sources[0].source_id
    healthy.eventsource.dispatches.append(PageDispatch(source_id=source, type="error", t=5.0, ready_state=0))
    found = _rule("retry_too_long")(healthy)
    assert found is not None and "`retry: 60000`" in found.line


def _dropped_and_waiting(evidence: Evidence, waited: float) -> None:
    """The page's only stream drops and EventSource (CONNECTING) has not reconnected `waited` s later."""
    stream, source = _stream(evidence), evidence.eventsource.sources[0]
    drop = stream.opened_at + 0.05
    stream.frames = [f for f in stream.frames if f.t <= drop]
    stream.ended_by, stream.closed_at = "error", drop
    evidence.eventsource.closes, evidence.navigations = [], [n for n in evidence.navigations if n.t <= source.t]
    evidence.eventsource.dispatches.append(
        PageDispatch(source_id=source.source_id, type="error", t=drop, ready_state=0, listeners_called=1)
    )
    evidence.collected_at = drop + waited


def test_a_reconnect_still_pending_names_the_missing_or_longer_retry(healthy: Evidence) -> None:
    """Fails if: the rule ignores what the stream sent as `retry:` (a declared one that is kept, a longer
    one, none), blames the delay before even the declared one passed, or fires after a reconnect, a
    close() or for an app that declares no `retry:`."""
    contract = replace(DRAFTS_API, timings=Timings(retry_ms=250))
    rule = _raw("reconnect_pending")
    _dropped_and_waiting(healthy, waited=2.0)
    assert _stream(healthy).frames[0].retry_ms == 300
    assert rule(healthy, contract) is None, "a `retry: 300` lapsed 2 s ago: the delay is not why it waits"
    _replace_frame(healthy, "", retry_ms=10_000)
    assert rule(healthy, replace(DRAFTS_API, timings=Timings(retry_ms=10_000))) is None, "the declared retry"
    found = rule(healthy, contract)
    assert found is not None and "`retry: 10000`, the app declares 250 ms" in found.line, found
    assert "lost /stream 2.0 s before the failure and was still waiting to reconnect" in found.line
    _replace_frame(healthy, "", retry_ms=None, kind="comment")  # the stream sent no `retry:`
    found = rule(healthy, contract)
    assert found is not None and "no `retry:` reached the browser (the app declares 250 ms)" in found.line
    assert rule(healthy, replace(DRAFTS_API, timings=Timings(retry_ms=None))) is None, "the app relies on the default"
    healthy.collected_at -= 1.9  # 0.1 s after the drop: not even the declared delay has passed
    assert rule(healthy, contract) is None
    healthy.collected_at += 1.9
    healthy.eventsource.closes = [PageClose(source_id=healthy.eventsource.sources[0].source_id, t=healthy.collected_at)]
    assert rule(healthy, contract) is None, "the page closed it: it will never reconnect"
    healthy.eventsource.closes = []
    healthy.streams.append(replace(_stream(healthy), opened_at=healthy.collected_at - 1.0, frames=[]))
    assert rule(healthy, contract) is None, "it did reconnect"


def test_a_backend_error_is_the_last_resort_line(healthy: Evidence) -> None:
    message = "This generation task no longer exists."
    _replace_frame(healthy, "success", event="error", data=json.dumps({"type": "error", "message": message}))
    found = _raw("backend_sent_error")(healthy, DRAFTS_API)
    assert found is not None and f"ended the generation with `error` ({message!r}) after [started" in found.line


@pytest.mark.parametrize(
    ("shown", "why"),
    [
        ("Starting... Analyzing the brief...", "adds each status to the previous text"),
        ("Use bold here", "renders the server's text as HTML"),
    ],
)
def test_a_status_shown_otherwise_than_received_is_named(shown: str, why: str) -> None:
    evidence = load("gate_first_progress_only")
    last = [d for d in evidence.eventsource.delivered() if d.message_event][-1]
    message = "Analyzing the brief..." if "Starting" in shown else "Use <b>bold</b> here"
    data = json.dumps({"type": "status", "message": message})
    evidence.eventsource.dispatches = [
        replace(d, data=data) if d is last else d for d in evidence.eventsource.dispatches
    ]
    evidence.page_status_text = shown
    found = _rule("status_not_rendered")(evidence)
    assert found is not None and why in found.line


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("drop_done", "the stream ended after `success` without `done`"),
        ("drop_success", "`done` came without a terminal event"),
        ("duplicate_success", "after `success` came [success, done] instead of `done` alone"),
        ("progress_after_success", "after `success` came [progress, done] instead of `done` alone"),
    ],
)
def test_a_stream_that_does_not_end_with_one_terminal_event_then_done_is_named(
    healthy: Evidence, edit: str, problem: str
) -> None:
    stream = _stream(healthy)
    assert _rule("stream_ending_drift")(healthy) is None
    success, done = _frame(healthy, "success"), _frame(healthy, "done")
    others = [f for f in stream.frames if f not in (success, done)]
    progress = _frame(healthy, "progress")
    stream.frames = {
        "drop_done": [*others, success],
        "drop_success": [*others, done],
        "duplicate_success": [*others, success, success, done],
        "progress_after_success": [*others, success, progress, done],
    }[edit]
    found = _rule("stream_ending_drift")(healthy)
    assert found is not None and problem in found.line


def test_a_stream_open_without_any_event_is_named(healthy: Evidence) -> None:
    stream = _stream(healthy)
    stream.frames = [f for f in stream.frames if f.kind != "event"]
    stream.ended_by, stream.closed_at = None, None
    healthy.eventsource.closes, healthy.navigations = [], []
    healthy.collected_at = stream.opened_at + 3.0
    found = diagnose(healthy)
    assert found.rule == "silent_stream", found.line
    assert "sent no event, only [retry, comment" in found.line


def test_an_unknown_task_that_reads_as_pending_is_named(healthy: Evidence) -> None:
    """The production shape's defect: its store reads a missing task as PENDING, so the stream of a task
    no generate answer named sends `pending` (or nothing) instead of a 404."""
    stream = _stream(healthy)
    healthy.http_exchanges.append(_generate_exchange(stream.opened_at - 0.1, task_id="t-issued"))
    pending = json.dumps({"state": "PENDING"})
    stream.frames = [WireFrame(t=stream.opened_at + i, kind="event", event="pending", data=pending) for i in range(3)]
    stream.path = DRAFTS_API.stream.fill(campaign_id="spring-launch", task_id="t-issued")
    assert _rule("unknown_task_stream")(healthy) is None  # a task the test created may still be waiting
    stream.path = DRAFTS_API.stream.fill(campaign_id="other-campaign", task_id="t-issued")
    assert _rule("unknown_task_stream")(healthy) is None  # created, but streamed under another campaign
    stream.path = DRAFTS_API.stream.fill(campaign_id="spring-launch", task_id="no-such-task")
    found = _rule("unknown_task_stream")(healthy)
    assert found is not None, diagnose(healthy).line
    assert "task 'no-such-task' of campaign 'spring-launch', which this test never created" in found.line
    assert "only [pending x3]" in found.line and "['t-issued']" in found.line
    stream.frames = [f for f in stream.frames if f.event != "pending"]
    found = _rule("unknown_task_stream")(healthy)
    assert found is not None and "with 200 and no event" in found.line
