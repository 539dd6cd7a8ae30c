"""How the stream travels: no buffering, heartbeats only while quiet, headers that keep it live."""

from __future__ import annotations

import pytest

from harness.sse import SSEComment, SSEEvent

from .api_backend import EVENT_STREAM, ApiBackend, BackendFactory
from .event_stream import describe

pytestmark = pytest.mark.timeout(30)

# How long an event may take from its Redis write to the client, on top of one poll interval. Generous
# (a busy 2-core machine), yet far below "at the end of the response", which is what buffering gives.
DELIVERY_MARGIN_S = 3.0


def test_each_event_reaches_the_client_before_the_next_step_is_released(backend: ApiBackend) -> None:
    """The generation is held at each step until its event has been read from the socket.

    fails if: anything between generator and socket buffers (the whole response, a GZip middleware,
    a generator collecting events, a flush timer longer than the margin).
    """
    within = backend.settings.poll_interval + DELIVERY_MARGIN_S
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started", timeout=within)
        for step in range(1, 4):
            run.progress(f"Step {step} of 3")  # returns once written to Redis; the run is held again
            assert stream.expect("progress", timeout=within)["message"] == f"Step {step} of 3"
            assert not run.finished, "the generation ran ahead of the test: the barrier proves nothing"
        run.succeed()
        stream.expect("success", timeout=within)
        stream.expect("done", timeout=within)


def test_heartbeat_comments_come_at_the_configured_interval_while_quiet(make_backend: BackendFactory) -> None:
    """A held generation sends nothing but comment heartbeats, one every `heartbeat_polls` polls.

    The cadence is counted in polls of the task state (the Redis reads), not in seconds: a loaded
    machine stretches both alike, so the count stays exact where wall-clock gaps would not.
    fails if: heartbeats are missing or left to sse-starlette's 15 s default, come every poll (or
    faster than configured), ignore `heartbeat_polls`, or are sent as events.
    """
    backend = make_backend(poll_interval=0.03, heartbeat_polls=5)
    settings = backend.settings
    heartbeats = 4
    accepted, run = backend.start_generation()  # held: from now on only the stream reads the task
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        started_at, polls_at_start = stream.received[-1].at, backend.polls.count
        for _ in range(heartbeats):
            item = stream.next(timeout=5.0)
            assert item is not None, f"the stream ended while quiet: {stream.transcript()}"
            assert isinstance(item.observation, SSEComment), (
                f"while the task is quiet only comment heartbeats may come, got {describe(item.observation)}"
            )
        seconds, polls = stream.received[-1].at - started_at, backend.polls.count - polls_at_start
        run.succeed()
        stream.expect("success")
    polls_per_heartbeat = polls / heartbeats
    # +-1.5: the test reads each count a little after the heartbeat left; that error does not add up.
    assert abs(polls_per_heartbeat - settings.heartbeat_polls) <= 1.5, (
        f"a heartbeat every {polls_per_heartbeat:.1f} polls, configured every {settings.heartbeat_polls}"
    )
    assert seconds / heartbeats >= 0.5 * settings.heartbeat_interval, (
        f"{heartbeats} heartbeats in {seconds:.3f} s, configured every {settings.heartbeat_interval} s"
    )


def test_no_heartbeat_while_events_keep_coming(make_backend: BackendFactory) -> None:
    """Heartbeats fill silences only: steps about two polls apart, over several heartbeat intervals, get none.

    fails if: heartbeats run on their own timer (sse-starlette's ping), or the quiet count is not reset
    by an event. The quiet end of the test proves heartbeats are on at all.
    """
    # 12 polls per heartbeat: the test thread may lag ~10 polls behind a step before one is due.
    backend = make_backend(poll_interval=0.03, heartbeat_polls=12)
    steps = 14  # 2+ polls each: 28+ polls, over 2 heartbeat intervals
    accepted, run = backend.start_generation()
    with backend.stream(accepted.stream_url) as stream:
        stream.expect("started")
        for step in range(steps):
            run.progress(f"Step {step}")
            stream.expect("progress")
            # One more poll of the unchanged state before the next step: the stream has seen quiet.
            polls = backend.polls.count
            assert backend.polls.wait_for(polls + 1, timeout=5.0), "the stream stopped polling"
        busy = list(stream.observations())
        heartbeat = stream.next(timeout=5.0)
        assert heartbeat is not None and isinstance(heartbeat.observation, SSEComment), (
            f"no heartbeat once the task went quiet: {stream.transcript()}"
        )
        run.succeed()
        stream.expect("success")
    comments = [describe(o) for o in busy if isinstance(o, SSEComment)]
    assert not comments, f"heartbeats while events were flowing: {comments}; stream: {stream.transcript()}"
    assert sum(isinstance(o, SSEEvent) for o in busy) == steps + 1


def test_stream_headers_forbid_caching_proxy_buffering_and_compression(backend: ApiBackend) -> None:
    """`Cache-Control: no-cache`, `X-Accel-Buffering: no`, no `Content-Encoding` even when gzip is offered.

    fails if: a compression middleware wraps the stream, or the headers nginx/CDNs need are missing.
    """
    accepted, _held = backend.start_generation()
    with backend.stream(accepted.stream_url, headers={"Accept-Encoding": "gzip, deflate, br"}) as stream:
        headers = stream.response.headers
        stream.expect("started")  # the body really streams, with these headers
    assert headers["content-type"].split(";")[0].strip() == EVENT_STREAM, headers
    directives = {part.strip().lower() for part in headers.get("cache-control", "").split(",")}
    assert "no-cache" in directives, f"Cache-Control: {headers.get('cache-control')!r}"
    assert headers.get("x-accel-buffering") == "no", f"X-Accel-Buffering: {headers.get('x-accel-buffering')!r}"
    assert "content-encoding" not in headers, f"Content-Encoding: {headers['content-encoding']!r}"
