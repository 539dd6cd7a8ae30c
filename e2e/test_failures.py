"""What the user reads when something goes wrong: a clear message, never a hang or a loop."""

from __future__ import annotations

import json

from playwright.sync_api import Page, Route, expect

from harness.contract import AppContract
from harness.pages import NewDraftPage
from harness.plugin import RedisOutage, StartGeneration
from harness.recording import EvidenceCollector
from harness.scripting import Scripted

SECRET = "KeyError: 'secret internal detail'"


def test_backend_failure_message_is_shown_verbatim_without_redirect_or_reconnect(
    gate_start_generation: StartGeneration,
    new_draft: NewDraftPage,
    gate_page: Page,
    gate_evidence: EvidenceCollector,
    gate_contract: AppContract,
) -> None:
    """Fails if: the server's `error` event is taken for a lost connection, its message is rewritten,
    the page still navigates, or EventSource reconnects after the failure."""
    run = gate_start_generation("Writing the draft...")
    run.fail("The model is overloaded: try again in a minute.")
    expect(new_draft.alert).to_have_text("The model is overloaded: try again in a minute.")
    expect(new_draft.generate_button).to_be_enabled()
    assert gate_evidence.all_eventsources_closed_by_page()
    assert gate_evidence.stream_connections() == 1
    assert gate_contract.editor_url_pattern().search(gate_page.url) is None, gate_page.url


def test_unexpected_backend_crash_shows_a_generic_message_not_internals(
    new_draft: NewDraftPage, gate_scripted: Scripted, gate_contract: AppContract
) -> None:
    """Fails if: an internal exception's text reaches the page, or a crash leaves the page waiting."""
    new_draft.generate()
    gate_scripted.next_run().crash(SECRET)
    if gate_contract.messages.generic_failure is not None:
        expect(new_draft.alert).to_have_text(gate_contract.messages.generic_failure)
    else:
        expect(new_draft.alert).to_be_visible()
    expect(new_draft.alert).not_to_contain_text("secret")


def _generate_rewritten(
    new_draft: NewDraftPage,
    gate_page: Page,
    contract: AppContract,
    *,
    task_id: str | None = None,
    campaign: str | None = None,
) -> None:
    """Click Generate with the POST's answer rewritten (or, for a page that builds the stream URL
    itself, the campaign the task is created in); never the stream, which the real backend serves.

    Returns once the page has the rewritten answer. The route handler runs in the test's thread,
    only while that thread is inside a Playwright call: a test blocking in plain Python right after
    the click (`gate_scripted.next_run()`) would hold the POST, and so the generation, forever."""
    own_campaign = contract.campaign_id

    def handle(route: Route) -> None:
        url = route.request.url
        if campaign is not None and contract.stream_url_field is None:
            # The page streams from its own campaign: create the task in another one.
            url = url.replace(f"/{own_campaign}/", f"/{campaign}/")
        response = route.fetch(url=url)
        accepted = response.json()
        if task_id is not None:
            if contract.stream_url_field is not None:
                original = accepted[contract.task_id_field]
                accepted[contract.stream_url_field] = accepted[contract.stream_url_field].replace(original, task_id)
            else:
                accepted[contract.task_id_field] = task_id
        if campaign is not None and contract.stream_url_field is not None:
            stream_url = accepted[contract.stream_url_field]
            accepted[contract.stream_url_field] = stream_url.replace(f"/{own_campaign}/", f"/{campaign}/")
        route.fulfill(response=response, body=json.dumps(accepted))

    gate_page.route(contract.generate.url_regex(), handle)
    with gate_page.expect_response(contract.generate.url_regex()):
        new_draft.generate()


def test_unknown_task_shows_a_clear_message_and_stops(
    new_draft: NewDraftPage, gate_page: Page, gate_evidence: EvidenceCollector, gate_contract: AppContract
) -> None:
    """Fails if: the backend answers an unknown task with a 200 stream (EventSource would reconnect
    forever, or the page waits on `pending` forever) or the page shows only "Connection lost"."""
    _generate_rewritten(new_draft, gate_page, gate_contract, task_id="no-such-task-0000000")
    if gate_contract.messages.task_not_found is not None:
        expect(new_draft.alert).to_have_text(gate_contract.messages.task_not_found)
    else:
        expect(new_draft.alert).to_be_visible()
    expect(new_draft.generate_button).to_be_enabled()
    assert gate_evidence.stream_connections() == 1


def test_task_of_another_campaign_is_not_streamed(
    new_draft: NewDraftPage, gate_page: Page, gate_scripted: Scripted, gate_contract: AppContract
) -> None:
    """Fails if: the stream does not check that the task belongs to the campaign in the URL."""
    _generate_rewritten(new_draft, gate_page, gate_contract, campaign=gate_contract.other_campaign_id)
    gate_scripted.next_run().progress("Secret progress of another campaign")
    if gate_contract.messages.task_not_found is not None:
        expect(new_draft.alert).to_have_text(gate_contract.messages.task_not_found)
    else:
        expect(new_draft.alert).to_be_visible()
    expect(new_draft.status).not_to_have_text("Secret progress of another campaign")


def test_invalid_form_gets_the_validation_message_and_no_generation(
    new_draft: NewDraftPage, gate_scripted: Scripted, gate_evidence: EvidenceCollector, gate_contract: AppContract
) -> None:
    """Fails if: the backend accepts input its contract says is invalid, or the page hides the 422's message."""
    assert gate_contract.invalid_input, f"contract {gate_contract.name!r} declares no invalid_input"
    new_draft.fill(**gate_contract.invalid_input)
    new_draft.generate()
    if gate_contract.messages.invalid_input is not None:
        expect(new_draft.alert).to_contain_text(gate_contract.messages.invalid_input)
    else:
        expect(new_draft.alert).to_be_visible()
    expect(new_draft.generate_button).to_be_enabled()
    assert gate_scripted.runs == []
    assert gate_evidence.stream_connections() == 0


def test_redis_outage_mid_generation_shows_a_clear_error(
    gate_start_generation: StartGeneration,
    new_draft: NewDraftPage,
    gate_redis_outage: RedisOutage,
    gate_evidence: EvidenceCollector,
    gate_contract: AppContract,
) -> None:
    """Fails if: the stream dies mid-chunk on a Redis error (the page would say "Connection lost" or
    retry forever) instead of sending an `error` event with a clear message."""
    gate_start_generation("Writing the draft...")
    with gate_redis_outage():
        if gate_contract.messages.store_unavailable_stream is not None:
            expect(new_draft.alert).to_have_text(gate_contract.messages.store_unavailable_stream)
        else:
            expect(new_draft.alert).to_be_visible()
    assert gate_evidence.stream_connections() == 1


def test_redis_down_when_generate_is_clicked_shows_service_unavailable(
    new_draft: NewDraftPage, gate_scripted: Scripted, gate_redis_outage: RedisOutage, gate_contract: AppContract
) -> None:
    """Fails if: the POST answers 500 with a traceback (or hangs) instead of a readable 503."""
    with gate_redis_outage():
        new_draft.generate()
        if gate_contract.messages.store_unavailable_post is not None:
            expect(new_draft.alert).to_have_text(gate_contract.messages.store_unavailable_post)
        else:
            expect(new_draft.alert).to_be_visible()
    assert gate_scripted.runs == []
