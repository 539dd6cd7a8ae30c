"""Which events the progress stream sends, in which order, with which payloads."""

from __future__ import annotations

import pytest

from drafts_api.protocol import Draft
from drafts_api.runner import GENERIC_FAILURE
from drafts_api.stream import TASK_EXPIRED
from harness.sse import SSEEvent, SSERetry

from .api_backend import DEFAULT_CAMPAIGN, ApiBackend, BackendFactory
from .held_runner import HeldRunner

pytestmark = pytest.mark.timeout(30)


def test_success_sends_started_progress_success_done_in_order(backend: ApiBackend) -> None:
    """Each step's event, with its payload, in order; then the response ends.

    fails if: events are unnamed or renamed, a payload drifts from its model, `done` is missing,
    the draft in `success` is not the generated one, or the response stays open after `done`.
    """
    accepted, run = backend.start_generation(tone="playful", length="long", topic="Autumn sale")
    with backend.stream(accepted.stream_url) as stream:
        assert stream.expect("started") == {"type": "status", "message": "Generation started..."}
        run.progress("Analyzing the brief...")
        assert stream.expect("progress") == {"type": "status", "message": "Analyzing the brief..."}
        run.progress("Writing the draft...")
        assert stream.expect("progress") == {"type": "status", "message": "Writing the draft..."}
        run.succeed(title="Autumn sale: 20% off", body="Everything is cheaper.")
        success = stream.expect("success")
        assert stream.expect("done") == {}
        stream.expect_end()
    assert success["type"] == "complete"
    draft = Draft.model_validate(success["draft"])
    assert (draft.campaign_id, draft.title, draft.body, draft.tone, draft.length) == (
        DEFAULT_CAMPAIGN,
        "Autumn sale: 20% off",
        "Everything is cheaper.",
        "playful",
        "long",
    ), f"success carries another draft: {success}"


def test_failure_sends_error_with_the_generators_message_then_done(backend: ApiBackend) -> None:
    """A user-facing failure message reaches the page verbatim in a named `error` event.

    fails if: failure is sent as an unnamed/other event, the message is replaced, or `done` is missing.
    """
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        run.progress("Analyzing the brief...")
        stream.expect("progress")
        run.fail("The writing model is overloaded. Please try again in a minute.")
        assert stream.expect("error") == {
            "type": "error",
            "message": "The writing model is overloaded. Please try again in a minute.",
        }
        assert stream.expect("done") == {}
        stream.expect_end()


def test_generator_crash_sends_a_generic_error_without_internal_details(backend: ApiBackend) -> None:
    """An unexpected exception becomes the generic message; its text never reaches the client.

    fails if: `str(exception)` is sent to the page, or a crash leaves the stream without a terminal event.
    """
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        run.crash("KeyError: 'OPENAI_API_KEY' at /srv/app/llm.py:42")
        assert stream.expect("error") == {"type": "error", "message": GENERIC_FAILURE}
        stream.expect("done")
        stream.expect_end()
        assert "OPENAI_API_KEY" not in stream.transcript()


def test_pending_is_sent_until_a_worker_starts_the_task(make_backend: BackendFactory) -> None:
    """A task nobody has picked up yet is announced as `pending`, then `started` once a worker runs it.

    fails if: PENDING maps to another event name or to none, or the stream waits silently for a worker.
    """
    runner = HeldRunner()
    backend = make_backend(runner=runner)
    accepted = backend.generate()
    with backend.stream(accepted.stream_url) as stream:
        assert stream.expect("pending") == {"type": "status", "message": "Waiting for a worker..."}
        runner.start_next(backend.store)
        assert stream.expect("started")["message"] == "Generation started..."
        backend.generator.next_run().succeed()
        stream.expect("success")
        stream.expect("done")
        stream.expect_end()


def test_first_frame_carries_the_configured_retry(make_backend: BackendFactory) -> None:
    """The reconnect delay (`retry:`) comes with the first frame, before the first event is dispatched.

    fails if: no `retry:` is sent, it is sent after the first event, or it ignores `retry_ms`.
    """
    backend = make_backend(retry_ms=1234)
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        before_first_event = stream.observations()[:-1]
        run.succeed()
        stream.expect("success")
    assert SSERetry(1234) in before_first_event, f"no `retry: 1234` before the first event: {stream.transcript()}"


def test_stream_opened_after_the_end_starts_with_the_terminal_event(backend: ApiBackend) -> None:
    """A late subscriber (fast task, or a reconnect after success) gets the result at once, then `done`.

    fails if: the stream only reports changes it witnessed, so a finished task streams nothing forever.
    """
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as first:
        first.expect("started")
        run.succeed()
        expected = first.expect("success")
    with backend.stream(accepted.stream_url) as late:
        assert late.expect("success") == expected
        late.expect("done")
        late.expect_end()
    assert isinstance(late.observations()[0], SSERetry), f"late stream lacks `retry:` first: {late.transcript()}"


def test_progress_is_sent_once_per_change_not_once_per_poll(backend: ApiBackend) -> None:
    """While the state stays the same for many polls, its event is not repeated.

    fails if: the stream re-sends the current state on every poll.
    """
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        run.progress("Outlining...")
        stream.expect("progress")
        polls_seen = backend.polls.count
        assert backend.polls.wait_for(polls_seen + 5, timeout=5.0), "the stream stopped polling the task state"
        run.progress("Writing...")
        assert stream.expect("progress")["message"] == "Writing...", stream.transcript()
        run.succeed()
        stream.expect("success")
        stream.expect("done")
    names = [o.type for o in stream.observations() if isinstance(o, SSEEvent)]
    assert names == ["started", "progress", "progress", "success", "done"], stream.transcript()


def test_message_with_newlines_survives_in_one_data_line(backend: ApiBackend) -> None:
    """Line breaks inside a message are JSON-escaped, so the event keeps one data line and its text.

    fails if: payloads are written raw (a newline splits the frame) or re-encoded lossily.
    """
    message = "Outline:\n1. offline mode\r\n2. dark theme\r3. done"
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        run.progress(message)
        assert stream.expect("progress")["message"] == message
        run.succeed()
        stream.expect("success")


def test_task_vanishing_mid_stream_ends_it_with_an_error(backend: ApiBackend) -> None:
    """A task whose state disappears (expired) ends the stream with a clear `error`, then `done`.

    fails if: the stream keeps polling a missing task forever, or breaks off without a terminal event.
    """
    accepted, _held = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        with backend.redis.sync_client() as redis:
            assert redis.delete(backend.task_key(accepted.task_id)) == 1, "the task key is not where expected"
        assert stream.expect("error") == {"type": "error", "message": TASK_EXPIRED}
        stream.expect("done")
        stream.expect_end()
