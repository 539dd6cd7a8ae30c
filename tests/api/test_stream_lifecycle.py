"""The stream's resources and dependencies: disconnects, Redis outages, the saved draft."""

from __future__ import annotations

import pytest

from drafts_api.app import STORE_UNAVAILABLE_DETAIL
from drafts_api.protocol import Draft, draft_path, generate_path
from drafts_api.stream import STORE_UNAVAILABLE
from harness.scripting import ScriptedGenerationError

from .api_backend import DEFAULT_CAMPAIGN, ApiBackend, BackendFactory, generate_body
from .event_stream import payload_of
from .redis_under_test import skip_unless_outage_possible

pytestmark = pytest.mark.timeout(30)

# Added to "within one poll interval" for a loaded machine; far below the heartbeat interval, the
# first moment a backend that only notices a disconnect when writing would notice it.
DISCONNECT_MARGIN_S = 2.0


def test_disconnect_stops_polling_and_frees_the_stream(make_backend: BackendFactory) -> None:
    """Closing the connection ends the stream within one poll interval, and Redis is not read again.

    fails if: the disconnect is only noticed at the next write (a heartbeat 20 s away here), or the
    stream keeps polling (or the live count is not released) after the client left.
    """
    backend = make_backend(poll_interval=0.1, heartbeat_polls=200)
    # Held until teardown: from now on only the stream reads the task.
    accepted, _held = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        assert backend.live_streams() == 1
    backend.wait_for_live_streams(0, within=backend.settings.poll_interval + DISCONNECT_MARGIN_S)
    polls = backend.polls.count
    quiet_for = 3 * backend.settings.poll_interval
    assert not backend.polls.wait_for(polls + 1, timeout=quiet_for), "the task is still polled after the disconnect"


def test_health_counts_open_streams(backend: ApiBackend) -> None:
    """`/health` reports each open stream and releases each one as its client leaves.

    fails if: the count is not kept, or leaks when a client disconnects mid-stream.
    """
    accepted, _held = backend.start_generation()
    assert backend.live_streams() == 0
    with backend.stream(accepted.stream_url) as first:
        first.expect("started")
        with backend.stream(accepted.stream_url) as second:
            second.expect("started")
            assert backend.live_streams() == 2
        backend.wait_for_live_streams(1, within=2.0)
    backend.wait_for_live_streams(0, within=2.0)


def test_redis_outage_mid_stream_ends_it_cleanly_and_a_new_stream_resumes(backend: ApiBackend) -> None:
    """Redis going away mid-stream gives an `error` event and `done` on a complete response; after
    Redis is back a new stream picks up the task's current state.

    fails if: the exception escapes the stream (truncated chunked body, no terminal event), the stream
    hangs on the dead store, or a stream opened during the outage is a 200 (EventSource would retry it
    forever) instead of a 503.
    """
    skip_unless_outage_possible(backend.redis)
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        backend.redis.cut()
        assert stream.expect("error") == {"type": "error", "message": STORE_UNAVAILABLE}
        stream.expect("done")
        stream.expect_end()  # a cleanly ended body: the parser saw its end, no broken transfer
    refused = backend.get_refusal(accepted.stream_url)
    assert refused.status_code == 503, f"stream during the outage: {refused.status_code} {refused.text}"
    assert refused.json() == {"detail": STORE_UNAVAILABLE_DETAIL, "errors": []}
    backend.redis.heal()
    run.progress("Back on track...")
    with backend.stream(accepted.stream_url) as resumed:
        assert resumed.expect("progress")["message"] == "Back on track..."
        run.succeed()
        resumed.expect("success")
        resumed.expect("done")


def test_a_generation_cut_off_by_redis_ends_in_failure_once_redis_is_back(backend: ApiBackend) -> None:
    """The worker cannot write while Redis is down; when it is back, the task must not look alive.

    fails if: the runner gives up on the first Redis error, leaving the task at its last progress
    (a later stream would send heartbeats until the TTL), or records a failure the user cannot read.
    """
    skip_unless_outage_possible(backend.redis)
    accepted, run = backend.start_generation()
    backend.redis.cut()
    with pytest.raises(ScriptedGenerationError, match="failed in the backend"):
        run.progress("Never written...")
    backend.redis.heal()
    with backend.stream(accepted.stream_url) as stream:
        names = []
        while (event := stream.next_event()) is not None and event.type != "error":
            names.append(event.type)
        assert event is not None, f"no `error` event; received: {stream.transcript()}"
        assert payload_of(event) == {"type": "error", "message": STORE_UNAVAILABLE}
        assert set(names) <= {"started"}, names
        stream.expect("done")


def test_requests_get_503_json_while_redis_is_down(backend: ApiBackend) -> None:
    """Every Redis-backed route answers 503 with a readable JSON detail; /health stays up.

    fails if: a Redis error becomes a 500 / a traceback, or the POST hangs on the dead store.
    """
    skip_unless_outage_possible(backend.redis)
    accepted, _held = backend.start_generation()
    backend.redis.cut()
    unavailable = {"detail": STORE_UNAVAILABLE_DETAIL, "errors": []}
    post = backend.client.post(generate_path(DEFAULT_CAMPAIGN), json=generate_body())
    assert (post.status_code, post.json()) == (503, unavailable), post.text
    assert post.headers["content-type"] == "application/json"
    draft = backend.client.get(draft_path("A" * 22))
    assert (draft.status_code, draft.json()) == (503, unavailable), draft.text
    stream = backend.get_refusal(accepted.stream_url)
    assert (stream.status_code, stream.json()) == (503, unavailable), stream.text
    backend.redis.heal()
    assert backend.client.post(generate_path(DEFAULT_CAMPAIGN), json=generate_body()).status_code == 202


def test_draft_is_readable_when_success_arrives(make_backend: BackendFactory) -> None:
    """The draft in `success` can be fetched the moment the event arrives, identical to the event's.

    Draft writes are slowed down by 0.3 s, so "saved after SUCCESS was written" cannot pass by luck.
    fails if: the runner writes SUCCESS (or the stream sends success) before the draft is saved.
    """
    backend = make_backend(draft_write_delay=0.3)
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        run.succeed()
        sent = stream.expect("success")["draft"]
        response = backend.client.get(draft_path(sent["id"]))
    assert response.status_code == 200, f"GET the draft of `success`: {response.status_code} {response.text}"
    assert Draft.model_validate(response.json()) == Draft.model_validate(sent)
