"""What lies between backend and browser: headers, CORS, proxies that buffer or cut quiet streams."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from harness.contract import AppContract
from harness.evidence import WireStream
from harness.pages import EditorPage, NewDraftPage
from harness.plugin import StartGeneration
from harness.proxy import BufferUnlessAccelOff, FaultProxy, IdleTimeout, Latency
from harness.recording import EvidenceCollector
from harness.scripting import Scripted
from harness.waiting import wait_until

COULD_NOT_REACH = "Could not reach the drafts service. Please try again."


def _generate_through_proxy(new_draft: NewDraftPage) -> None:
    new_draft.page.reload()  # /config.js now names the proxy as the API
    new_draft.fill().generate()


def _ended_streams(gate_evidence: EvidenceCollector) -> list[WireStream]:
    """The stream responses once each has ended. The page acts on `success` as soon as its bytes
    arrive, which can be before the wire recorder, in the backend's thread, has appended the frame."""
    return wait_until(
        gate_evidence.wire_streams,
        lambda streams: bool(streams) and all(s.ended_by for s in streams),
        timeout=5.0,
        what="the end of every stream response on the wire",
    )


def test_stream_headers_defeat_buffering_and_caching(
    new_draft: NewDraftPage,
    gate_scripted: Scripted,
    gate_page: Page,
    gate_evidence: EvidenceCollector,
    gate_frontend: str,
    gate_contract: AppContract,
) -> None:
    """Fails if: the stream loses text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no,
    gets compressed, or lacks the CORS header for the page's origin."""
    new_draft.generate()
    gate_scripted.next_run().succeed()
    expect(gate_page).to_have_url(gate_contract.editor_url_pattern())
    (stream,) = gate_evidence.wire_streams()
    headers = stream.response_headers
    assert stream.status == 200
    assert headers.get("content-type", "").startswith("text/event-stream"), headers
    assert headers.get("cache-control") == "no-cache", headers
    assert headers.get("x-accel-buffering") == "no", headers
    assert "content-encoding" not in headers, headers
    assert headers.get("access-control-allow-origin") == gate_frontend.rstrip("/"), headers


def test_every_frame_is_named_has_data_and_matches_the_protocol(
    gate_start_generation: StartGeneration,
    gate_page: Page,
    gate_evidence: EvidenceCollector,
    gate_contract: AppContract,
) -> None:
    """Fails if: the backend sends an unnamed event, an event without a JSON data line, or drifts
    from its contract (another event name; the progress text, draft id or draft fields elsewhere)."""
    events = gate_contract.events
    run = gate_start_generation("One...")
    run.succeed(title="Named", body="Every frame")
    expect(gate_page).to_have_url(gate_contract.editor_url_pattern())
    (stream,) = _ended_streams(gate_evidence)
    # Events of other names are allowed (a page ignores what it does not listen for), but not unnamed
    # ones (`onmessage` would be the only way to hear them); the contract's events all come, in order.
    unnamed = [frame for frame in stream.events if frame.event == "message"]
    assert not unnamed, f"{len(unnamed)} unnamed events (no `event:` line): {[f.data for f in unnamed][:3]}"
    known = [frame for frame in stream.events if frame.event in events.all]
    names = [frame.event for frame in known]
    assert names and names[0] in events.status and names[-2:] == [events.success, events.done], names
    payloads = []
    for frame in known:
        assert frame.data is not None, f"event {frame.event!r} without a data line"
        payloads.append((frame.event, json.loads(frame.data)))
    progress = [gate_contract.progress_text(data) for name, data in payloads if name == events.progress]
    assert "One..." in progress, payloads
    (success,) = [data for name, data in payloads if name == events.success]
    assert gate_contract.draft_id(success), f"no draft id at {gate_contract.payloads.draft_id!r}: {success}"
    assert gate_page.url.endswith(gate_contract.editor_path(str(gate_contract.draft_id(success)))), gate_page.url


def test_page_listens_for_every_event_the_backend_sends_and_logs_no_errors(
    gate_start_generation: StartGeneration,
    gate_page: Page,
    gate_evidence: EvidenceCollector,
    gate_contract: AppContract,
) -> None:
    """Fails if: the page listens only with onmessage (the production bug) or throws on a payload."""
    run = gate_start_generation("Listening...")
    run.succeed()
    expect(gate_page).to_have_url(gate_contract.editor_url_pattern())
    # The contract's events; others (an unknown event a page ignores) need no listener.
    events = gate_contract.events
    sent = {f.event for stream in _ended_streams(gate_evidence) for f in stream.events if f.event in events.all}
    unheard = sent - gate_evidence.listener_types() - {events.done}
    assert not unheard, f"backend sent {sorted(sent)}; the page has no listener for {sorted(unheard)}"
    assert gate_evidence.page_errors() == []


def test_progress_passes_a_buffering_proxy_thanks_to_x_accel_buffering(
    new_draft: NewDraftPage,
    gate_scripted: Scripted,
    gate_fault_proxy: FaultProxy,
    gate_page: Page,
    gate_contract: AppContract,
) -> None:
    """nginx buffers responses unless they say `X-Accel-Buffering: no`.

    Fails if: the backend drops that header: the page would see nothing until the stream ends."""
    gate_fault_proxy.set_fault(BufferUnlessAccelOff())
    _generate_through_proxy(new_draft)
    run = gate_scripted.next_run()
    run.progress("Through nginx...")
    expect(new_draft.status).to_have_text("Through nginx...")
    run.succeed()
    expect(gate_page).to_have_url(gate_contract.editor_url_pattern())


def test_heartbeats_keep_a_quiet_stream_alive_through_an_idle_timeout(
    new_draft: NewDraftPage,
    gate_scripted: Scripted,
    gate_fault_proxy: FaultProxy,
    gate_contract: AppContract,
    gate_evidence: EvidenceCollector,
) -> None:
    """A proxy cuts connections idle for T; a long quiet step must not lose the stream. T derives
    from the heartbeat interval the app declares (its contract's timings), not from the harness.

    Fails if: heartbeats stop or come less often than T (the proxy cuts, EventSource reconnects)."""
    # A margin of 5 heartbeats per idle period: a loaded CI machine may send one late, never four.
    heartbeat_s = gate_contract.timings.heartbeat_interval_s
    idle_cut = heartbeat_s * 5
    gate_fault_proxy.set_fault(IdleTimeout(idle_cut, path_contains="/stream/"))
    _generate_through_proxy(new_draft)
    run = gate_scripted.next_run()
    run.progress("A long quiet step...")
    expect(new_draft.status).to_have_text("A long quiet step...")
    # Quiet for two idle periods: wait on the wire for the heartbeats that span them.
    heartbeats_needed = 2 * 5
    wait_until(
        gate_evidence.heartbeats_sent,
        lambda sent: sent >= heartbeats_needed,
        timeout=max(15.0, heartbeats_needed * heartbeat_s * 2),
        what=f"{heartbeats_needed} heartbeats",
    )
    run.progress("Still here...")
    expect(new_draft.status).to_have_text("Still here...")
    assert gate_fault_proxy.count("/stream/") == 1
    assert gate_evidence.stream_connections() == 1


def test_progress_order_survives_network_latency(
    new_draft: NewDraftPage,
    gate_scripted: Scripted,
    gate_fault_proxy: FaultProxy,
    gate_page: Page,
    gate_contract: AppContract,
) -> None:
    """Fails if: the page or stream reorders events when they arrive late."""
    gate_fault_proxy.set_fault(Latency(0.05))
    _generate_through_proxy(new_draft)
    run = gate_scripted.next_run()
    for message in ("Slow one...", "Slow two...", "Slow three..."):
        run.progress(message)
        expect(new_draft.status).to_have_text(message)
    run.succeed(title="Late but whole")
    expect(EditorPage(gate_page, gate_contract).heading).to_have_text("Late but whole")


def test_allowed_origin_gets_cors_headers_on_post_and_stream(
    gate_start_generation: StartGeneration, gate_evidence: EvidenceCollector, gate_frontend: str
) -> None:
    """Fails if: the API's CORS allows no origin, or the stream response lacks the header."""
    gate_start_generation("Cross-origin...")
    origins = {stream.origin for stream in gate_evidence.wire_streams()}
    assert origins == {gate_frontend.rstrip("/")}, origins


def test_page_on_an_origin_the_api_does_not_allow_gets_a_clear_failure(
    gate_page: Page, gate_foreign_frontend: str, gate_scripted: Scripted, gate_contract: AppContract
) -> None:
    """Fails if: the API allows any origin (`*` or reflecting Origin), or the page hangs silently."""
    new_draft = NewDraftPage(gate_page, gate_contract).open(origin=gate_foreign_frontend)
    new_draft.fill().generate()
    expect(new_draft.alert).to_have_text(COULD_NOT_REACH)
    expect(new_draft.generate_button).to_be_enabled()
