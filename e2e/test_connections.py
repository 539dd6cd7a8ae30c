"""One stream per generation, closed by the page; reconnects only where they help, and bounded."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from harness.pages import EditorPage, NewDraftPage
from harness.proxy import CannedStatus, FaultProxy
from harness.recording import EvidenceCollector
from harness.scripting import ScriptedGenerator
from harness.servers import FrontendConfig, LiveBackend
from harness.waiting import wait_until

CONNECTION_LOST = "Connection lost. Please try again."


def test_one_stream_connection_per_generation_closed_by_the_page_on_success(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_page: Page, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the page does not close() on `success` (EventSource reconnects when the server ends
    the stream, and `success` replays), or it opens a stream per event."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("Writing...")
    expect(new_draft.status).to_have_text("Writing...")
    run.succeed(title="One stream")
    expect(EditorPage(gate_page).heading).to_have_text("One stream")
    assert gate_evidence.stream_connections() == 1
    assert gate_evidence.all_eventsources_closed_by_page(), gate_evidence.eventsource_summary()


def test_closing_the_page_stops_the_backend_stream(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_page: Page, gate_backend: LiveBackend
) -> None:
    """Fails if: the backend keeps polling Redis for a stream whose browser is gone (a leak)."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("Writing...")
    expect(new_draft.status).to_have_text("Writing...")
    assert gate_backend.live_streams() == 1
    gate_page.goto("about:blank")
    # Generous: the bound is about a loaded CI machine; tests/api holds the backend to one poll interval.
    wait_until(gate_backend.live_streams, lambda count: count == 0, timeout=5.0, what="live streams back to 0")


def test_backend_restart_mid_generation_reconnects_and_finishes(
    new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_page: Page,
    gate_backend: LiveBackend,
    gate_evidence: EvidenceCollector,
) -> None:
    """Fails if: the stream keeps state in the process (a restart loses the task), the backend cannot
    shut down with streams open, or the page gives up at the first transport error."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("Before the restart...")
    expect(new_draft.status).to_have_text("Before the restart...")
    gate_backend.restart()
    run.progress("After the restart...")
    expect(new_draft.status).to_have_text("After the restart...")
    expect(new_draft.alert).to_be_hidden()
    run.succeed(title="Survived a deploy")
    expect(EditorPage(gate_page).heading).to_have_text("Survived a deploy")
    assert gate_evidence.stream_connections() >= 2


def test_backend_gone_for_good_gives_up_with_connection_lost(
    new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_backend: LiveBackend,
    gate_frontend_config: FrontendConfig,
    gate_evidence: EvidenceCollector,
) -> None:
    """Fails if: the page reconnects forever (no bound) or never tells the user."""
    gate_frontend_config.update(reconnectTimeoutMs=1000)
    new_draft.page.reload()
    new_draft.fill().generate()
    run = gate_scripted.next_run()
    run.progress("Writing...")
    expect(new_draft.status).to_have_text("Writing...")
    assert gate_backend.server is not None
    gate_backend.server.stop()
    try:
        expect(new_draft.alert).to_have_text(CONNECTION_LOST)
        assert gate_evidence.all_eventsources_closed_by_page(), gate_evidence.eventsource_summary()
    finally:
        gate_backend.server.start()


def test_proxy_error_on_reconnect_ends_with_connection_lost_at_once(
    new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_backend: LiveBackend,
    gate_fault_proxy: FaultProxy,
) -> None:
    """A 502 from a proxy during a deploy closes EventSource for good: the page must say so, not hang.

    Fails if: the page waits for a reconnect that EventSource will never make."""
    new_draft.page.reload()
    new_draft.fill().generate()
    run = gate_scripted.next_run()
    run.progress("Writing...")
    expect(new_draft.status).to_have_text("Writing...")
    gate_fault_proxy.set_fault(CannedStatus(502, times=5, path_contains="/stream/", echo_origin=True))
    gate_backend.restart()
    expect(new_draft.alert).to_have_text(CONNECTION_LOST)
    # The first stream, one reconnect that gets the 502, at most one look at the error: no storm.
    assert gate_fault_proxy.count("/stream/") <= 3
