"""What the user reads when something goes wrong: a clear message, never a hang or a loop."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from playwright.sync_api import Page, Route, expect

from drafts_api.runner import GENERIC_FAILURE
from drafts_api.stream import STORE_UNAVAILABLE
from harness.pages import NewDraftPage
from harness.plugin import RedisOutage
from harness.recording import EvidenceCollector
from harness.scripting import ScriptedGenerator

GENERATE_URL = re.compile(r"/v1/campaigns/[^/]+/drafts/generate$")
NOT_FOUND = "No such generation task for this campaign (it may have expired)."


def test_backend_failure_message_is_shown_verbatim_without_redirect_or_reconnect(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_page: Page, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the server's `error` event is taken for a lost connection, its message is rewritten,
    the page still navigates, or EventSource reconnects after the failure."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("Writing the draft...")
    expect(new_draft.status).to_have_text("Writing the draft...")
    run.fail("The model is overloaded: try again in a minute.")
    expect(new_draft.alert).to_have_text("The model is overloaded: try again in a minute.")
    expect(new_draft.generate_button).to_be_enabled()
    assert gate_evidence.all_eventsources_closed_by_page()
    assert gate_evidence.stream_connections() == 1
    assert "/drafts/new" in gate_page.url


def test_unexpected_backend_crash_shows_a_generic_message_not_internals(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator
) -> None:
    """Fails if: an internal exception's text reaches the page, or a crash leaves the page waiting."""
    new_draft.generate()
    gate_scripted.next_run().crash("KeyError: 'secret internal detail'")
    expect(new_draft.alert).to_have_text(GENERIC_FAILURE)
    expect(new_draft.alert).not_to_contain_text("secret")


def _point_stream_at(gate_page: Page, transform: Callable[[dict[str, str]], str]) -> None:
    """Rewrite the 202 answer's stream_url (the JSON, not the stream: the real backend serves that)."""

    def handle(route: Route) -> None:
        response = route.fetch()
        accepted = response.json()
        accepted["stream_url"] = transform(accepted)
        route.fulfill(response=response, body=json.dumps(accepted))

    gate_page.route(GENERATE_URL, handle)


def test_unknown_task_shows_a_clear_message_and_stops(
    new_draft: NewDraftPage, gate_page: Page, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the backend answers an unknown task with a 200 stream (EventSource would reconnect
    forever) or the page shows only "Connection lost"."""
    _point_stream_at(
        gate_page, lambda accepted: accepted["stream_url"].replace(accepted["task_id"], "no-such-task-0000000")
    )
    new_draft.generate()
    expect(new_draft.alert).to_have_text(NOT_FOUND)
    assert gate_evidence.stream_connections() == 1


def test_task_of_another_campaign_is_not_streamed(
    new_draft: NewDraftPage, gate_page: Page, gate_scripted: ScriptedGenerator, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the stream does not check that the task belongs to the campaign in the URL."""
    _point_stream_at(gate_page, lambda accepted: accepted["stream_url"].replace("/spring-launch/", "/someone-else/"))
    new_draft.generate()
    gate_scripted.next_run().progress("Secret progress of another campaign")
    expect(new_draft.alert).to_have_text(NOT_FOUND)
    expect(new_draft.status).not_to_have_text("Secret progress of another campaign")


def test_invalid_form_gets_the_validation_message_and_no_generation(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_evidence: EvidenceCollector
) -> None:
    """Fails if: the backend accepts a too-short topic, or the page hides the 422's message."""
    new_draft.fill(topic="ab")
    new_draft.generate()
    expect(new_draft.alert).to_contain_text("topic: String should have at least 3 characters")
    expect(new_draft.generate_button).to_be_enabled()
    assert gate_scripted.runs == []
    assert gate_evidence.stream_connections() == 0


def test_redis_outage_mid_generation_shows_a_clear_error(
    new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_redis_outage: RedisOutage,
    gate_evidence: EvidenceCollector,
) -> None:
    """Fails if: the stream dies mid-chunk on a Redis error (the page would say "Connection lost" or
    retry forever) instead of sending an `error` event with a clear message."""
    new_draft.generate()
    run = gate_scripted.next_run()
    run.progress("Writing the draft...")
    expect(new_draft.status).to_have_text("Writing the draft...")
    with gate_redis_outage():
        expect(new_draft.alert).to_have_text(STORE_UNAVAILABLE)
    assert gate_evidence.stream_connections() == 1


def test_redis_down_when_generate_is_clicked_shows_service_unavailable(
    new_draft: NewDraftPage, gate_scripted: ScriptedGenerator, gate_redis_outage: RedisOutage
) -> None:
    """Fails if: the POST answers 500 with a traceback (or hangs) instead of a readable 503."""
    with gate_redis_outage():
        new_draft.generate()
        expect(new_draft.alert).to_have_text("The task store is unavailable. Please try again shortly.")
    assert gate_scripted.runs == []
