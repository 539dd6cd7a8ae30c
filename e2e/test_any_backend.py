"""The one flow that needs no scripting: it runs against a deployed backend too (`--backend-url`).

Against the harness's own backend the generation plays a short script (held once); against a staging
backend its real generator runs. Either way the page must show progress, open one stream, close it,
and land on the editor.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from harness.contract import AppContract
from harness.pages import EditorPage, NewDraftPage
from harness.recording import EvidenceCollector
from harness.scripting import Hold, Progress, Scripted, ScriptedGenerator, Succeed, TaskStateScripter
from harness.servers import LiveBackend

# A real generator (staging) takes its time; the scripted one finishes at once.
REAL_GENERATION_TIMEOUT_MS = 120_000


def test_generate_lands_on_the_editor_with_progress_on_any_backend(
    gate_page: Page,
    gate_backend: LiveBackend,
    gate_scripted_generator: ScriptedGenerator,
    gate_task_state_scripter: TaskStateScripter | None,
    gate_evidence: EvidenceCollector,
    gate_contract: AppContract,
) -> None:
    """Fails if: a deployed backend (behind its real proxies and CORS) drops, buffers or renames
    events, or the page cannot follow them to the editor."""
    scripted: Scripted | None = None
    if gate_backend.scripting == "generator":
        scripted = gate_scripted_generator
    elif gate_backend.scripting == "task_state":
        scripted = gate_task_state_scripter
    if scripted is not None:
        # Held after the first message, so that a progress event surely reaches the page first.
        scripted.autoplay(Progress("Analyzing..."), Hold(), Succeed(title="Any backend"))
    new_draft = NewDraftPage(gate_page, gate_contract).open().fill()
    new_draft.generate()
    if scripted is not None:
        run = scripted.next_run()
        expect(new_draft.status).to_have_text("Analyzing...")
        run.release()
    expect(gate_page).to_have_url(gate_contract.editor_url_pattern(), timeout=REAL_GENERATION_TIMEOUT_MS)
    expect(EditorPage(gate_page, gate_contract).heading).not_to_have_text("Edit draft")
    assert any(gate_evidence.dispatched(name) for name in gate_contract.events.status), (
        gate_evidence.eventsource_summary()
    )
    assert gate_evidence.stream_connections() == 1
    assert gate_evidence.all_eventsources_closed_by_page(), gate_evidence.eventsource_summary()
