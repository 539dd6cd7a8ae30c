"""One stream per generation, closed by the page; reconnects only where they help, and bounded."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from harness.contract import AppContract
from harness.pages import EditorPage, NewDraftPage
from harness.plugin import StartGeneration
from harness.proxy import CannedStatus, FaultProxy
from harness.recording import EvidenceCollector
from harness.scripting import Scripted
from harness.servers import FrontendConfig, LiveBackend
from harness.waiting import wait_until

CONNECTION_LOST = "Connection lost. Please try again."


def test_one_stream_connection_per_generation_closed_by_the_page_on_success(
    gate_start_generation: StartGeneration, editor: EditorPage, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the page does not close() on `success` (EventSource reconnects when the server ends
    the stream, and `success` replays), or it opens a stream per event."""
    run = gate_start_generation("Writing...")
    run.succeed(title="One stream")
    expect(editor.heading).to_have_text("One stream")
    assert gate_evidence.stream_connections() == 1
    assert gate_evidence.all_eventsources_closed_by_page(), gate_evidence.eventsource_summary()


def test_editor_stays_quiet_after_the_client_side_redirect(
    gate_start_generation: StartGeneration,
    editor: EditorPage,
    gate_evidence: EvidenceCollector,
    gate_frontend_config: FrontendConfig,
    gate_contract: AppContract,
) -> None:
    """The page navigates client-side (`history.pushState`, as `router.push` does), after a delay: an
    EventSource the client did not close lives on under the editor.

    Fails if: the client does not close on `success`: when the server ends the stream, EventSource
    reconnects (a second stream request), the task's `success` replays, and the page navigates again
    or shows "Connection lost" over the editor."""
    gate_frontend_config.update(redirectDelayMs=100)
    editor.page.reload()
    NewDraftPage(editor.page, gate_contract).fill()
    run = gate_start_generation("Writing...")
    run.succeed(title="Quiet editor")
    expect(editor.heading).to_have_text("Quiet editor")
    # The server ends the stream after `done`; a client that did not close reconnects after the
    # stream's retry delay. Wait for the end, then for that reconnect's bound.
    wait_until(
        lambda: [s.ended_by for s in gate_evidence.wire_streams()],
        lambda ends: bool(ends) and all(end is not None for end in ends),
        what="the stream's end",
    )
    reconnect_bound_s = (gate_contract.timings.retry_ms or 3000) / 1000 * 2 + 1.0
    try:
        wait_until(gate_evidence.stream_connections, lambda n: n > 1, timeout=reconnect_bound_s, what="a reconnect")
    except AssertionError:
        pass  # no second stream within the bound: the client closed, as it must
    assert gate_evidence.stream_connections() == 1, gate_evidence.eventsource_summary()
    expect(editor.heading).to_have_text("Quiet editor")
    expect(editor.alert).to_be_hidden()
    assert gate_evidence.all_eventsources_closed_by_page(), gate_evidence.eventsource_summary()


def test_closing_the_page_stops_the_backend_stream(
    gate_start_generation: StartGeneration, gate_page: Page, gate_backend: LiveBackend, gate_contract: AppContract
) -> None:
    """Fails if: the backend keeps polling Redis for a stream whose browser is gone (a leak). Live
    streams are counted by the gate's wire recorder (responses whose app has not returned)."""
    gate_start_generation("Writing...")
    assert gate_backend.live_streams() == 1
    gate_page.goto("about:blank")
    # Generous: the bound is about a loaded CI machine; tests/api holds the backend to one poll interval.
    bound_s = max(5.0, 4 * gate_contract.timings.poll_interval_s)
    wait_until(gate_backend.live_streams, lambda count: count == 0, timeout=bound_s, what="live streams back to 0")


def test_backend_restart_mid_generation_reconnects_and_finishes(
    gate_start_generation: StartGeneration,
    new_draft: NewDraftPage,
    editor: EditorPage,
    gate_backend: LiveBackend,
    gate_evidence: EvidenceCollector,
) -> None:
    """Fails if: the stream keeps state in the process (a restart loses the task), the backend cannot
    shut down with streams open, or the page gives up at the first transport error."""
    run = gate_start_generation("Before the restart...")
    gate_backend.restart()
    run.progress("After the restart...")
    expect(new_draft.status).to_have_text("After the restart...")
    expect(new_draft.alert).to_be_hidden()
    run.succeed(title="Survived a deploy")
    expect(editor.heading).to_have_text("Survived a deploy")
    assert gate_evidence.stream_connections() >= 2


def test_backend_gone_for_good_gives_up_with_connection_lost(
    new_draft: NewDraftPage,
    gate_scripted: Scripted,
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
    gate_scripted: Scripted,
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
