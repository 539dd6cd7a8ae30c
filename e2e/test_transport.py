"""What lies between backend and browser: headers, CORS, proxies that buffer or cut quiet streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from drafts_api.protocol import STREAM_EVENTS
from drafts_api.settings import Settings
from harness.contract import DRAFTS_API
from harness.pages import EDITOR_URL, EditorPage, NewDraftPage
from harness.proxy import BufferUnlessAccelOff, FaultProxy, IdleTimeout, Latency
from harness.recording import EvidenceCollector
from harness.scripting import ScriptedGenerator
from harness.waiting import wait_until

COULD_NOT_REACH = "Could not reach the drafts service. Please try again."


def _generate_through_proxy(new_draft: NewDraftPage) -> None:
    new_draft.page.reload()  # /config.js now names the proxy as the API
    new_draft.fill().generate()


def test_stream_headers_defeat_buffering_and_caching(
    new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_page: Page,
    gate_evidence: EvidenceCollector,
    gate_frontend: str,
) -> None:
    """Fails if: the stream loses text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no,
    gets compressed, or lacks the CORS header for the page's origin."""
    new_draft.generate()
    gate_scripted.next_run().succeed()
    expect(gate_page).to_have_url(EDITOR_URL)
    (stream,) = gate_evidence.wire_streams()
    headers = stream.response_headers
    assert stream.status == 200
    assert headers.get("content-type", "").startswith("text/event-stream"), headers
    assert headers.get("cache-control") == "no-cache", headers
    assert headers.get("x-accel-buffering") == "no", headers
    assert "content-encoding" not in headers, headers
    assert headers.get("access-control-allow-origin") == gate_frontend.rstrip("/"), headers


def test_every_frame_is_named_has_data_and_matches_the_protocol(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_page: Page, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the backend sends an unnamed event, an event without a data line, or drifts from
    the payload models (a renamed field, another event name)."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("One...")
    expect(new_draft.status).to_have_text("One...")
    run.succeed()
    expect(gate_page).to_have_url(EDITOR_URL)
    (stream,) = gate_evidence.wire_streams()
    # Events of other names are allowed (a page ignores what it does not listen for): the protocol's
    # own events must all be there, in order, each named and with data.
    known = [frame for frame in stream.events if frame.event in STREAM_EVENTS]
    names = [frame.event for frame in known]
    assert names and names[0] in ("pending", "started", "progress") and names[-2:] == ["success", "done"], names
    for frame in known:
        assert frame.data is not None, f"event {frame.event!r} without a data line"
        # What the page reads, at the contract's paths (extra fields are harmless to a page).
        payload = frame.payload()
        readers: dict[str, Callable[[Any], object]] = {
            "success": DRAFTS_API.draft_id,
            "error": DRAFTS_API.error_message,
            "done": lambda payload: payload,
        }
        read = readers.get(frame.event, DRAFTS_API.progress_text)
        assert isinstance(payload, dict) and read(payload) is not None, f"`{frame.event}` data {frame.data!r}"


def test_page_listens_for_every_event_the_backend_sends_and_logs_no_errors(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_page: Page, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the page listens only with onmessage (the production bug) or throws on a payload."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("Listening...")
    expect(new_draft.status).to_have_text("Listening...")
    run.succeed()
    expect(gate_page).to_have_url(EDITOR_URL)
    # The protocol's events; others (an unknown event a page ignores) need no listener.
    sent = {f.event for stream in gate_evidence.wire_streams() for f in stream.events if f.event in STREAM_EVENTS}
    unheard = sent - gate_evidence.listener_types() - {"done"}
    assert not unheard, f"backend sent {sorted(sent)}; the page has no listener for {sorted(unheard)}"
    assert gate_evidence.page_errors() == []


def test_progress_passes_a_buffering_proxy_thanks_to_x_accel_buffering(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_fault_proxy: FaultProxy, gate_page: Page
) -> None:
    """nginx buffers responses unless they say `X-Accel-Buffering: no`.

    Fails if: the backend drops that header: the page would see nothing until the stream ends."""
    gate_fault_proxy.set_fault(BufferUnlessAccelOff())
    _generate_through_proxy(new_draft)
    run = gate_scripted.next_run()
    run.progress("Through nginx...")
    expect(new_draft.status).to_have_text("Through nginx...")
    run.succeed()
    expect(gate_page).to_have_url(EDITOR_URL)


def test_heartbeats_keep_a_quiet_stream_alive_through_an_idle_timeout(
    new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_fault_proxy: FaultProxy,
    gate_backend_settings: Settings,
    gate_evidence: EvidenceCollector,
) -> None:
    """A proxy cuts connections idle for T; a long quiet step must not lose the stream.

    Fails if: heartbeats stop or come less often than T (the proxy cuts, EventSource reconnects)."""
    # A margin of 5 heartbeats per idle period: a loaded CI machine may send one late, never four.
    idle_cut = gate_backend_settings.heartbeat_interval * 5
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
        timeout=15.0,
        what=f"{heartbeats_needed} heartbeats",
    )
    run.progress("Still here...")
    expect(new_draft.status).to_have_text("Still here...")
    assert gate_fault_proxy.count("/stream/") == 1
    assert gate_evidence.stream_connections() == 1


def test_progress_order_survives_network_latency(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_fault_proxy: FaultProxy, gate_page: Page
) -> None:
    """Fails if: the page or stream reorders events when they arrive late."""
    gate_fault_proxy.set_fault(Latency(0.05))
    _generate_through_proxy(new_draft)
    run = gate_scripted.next_run()
    for message in ("Slow one...", "Slow two...", "Slow three..."):
        run.progress(message)
        expect(new_draft.status).to_have_text(message)
    run.succeed(title="Late but whole")
    expect(EditorPage(gate_page).heading).to_have_text("Late but whole")


def test_allowed_origin_gets_cors_headers_on_post_and_stream(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_evidence: EvidenceCollector, gate_frontend: str
) -> None:
    """Fails if: the API's CORS allows no origin, or the stream response lacks the header."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("Cross-origin...")
    expect(new_draft.status).to_have_text("Cross-origin...")
    origins = {stream.origin for stream in gate_evidence.wire_streams()}
    assert origins == {gate_frontend.rstrip("/")}, origins


def test_page_on_an_origin_the_api_does_not_allow_gets_a_clear_failure(
    gate_page: Page, gate_foreign_frontend: str, gate_scripted: ScriptedGenerator
) -> None:
    """Fails if: the API allows any origin (`*` or reflecting Origin), or the page hangs silently."""
    new_draft = NewDraftPage(gate_page)
    gate_page.goto(gate_foreign_frontend + "/dashboard/campaigns/spring-launch/drafts/new")
    new_draft.fill().generate()
    expect(new_draft.alert).to_have_text(COULD_NOT_REACH)
    expect(new_draft.generate_button).to_be_enabled()
