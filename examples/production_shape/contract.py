"""What the gate knows of the production-shaped app: its contract (the worked example of README,
"Gate your own app")."""

from __future__ import annotations

import dataclasses

from examples.production_shape.app import GENERIC_FAILURE, STORE_UNAVAILABLE, STREAM_STORE_LOST
from harness.contract import (
    AppContract,
    FormField,
    Messages,
    PayloadPaths,
    Route,
    TaskStateShape,
    Timings,
)

# The timings the gate runs the app with: its production poll (1.5 s) made fast, the keepalive every
# 10 quiet polls as in production, and a short `retry:` (production sends none; EventSource's own
# default is about 3 s). `PRODUCTION` below keeps the production values.
GATE_POLL_INTERVAL_S = 0.05
GATE_RETRY_MS = 250
KEEPALIVE_POLLS = 10

CONTRACT = AppContract(
    name="production_shape",
    campaign_id="3f0c9a52-6b1e-4f0e-9a43-2d7c8e5b1a60",
    other_campaign_id="b7d4e0c1-92aa-4c36-8f55-0e6a1f3c9d24",
    generate=Route("/campaigns/{campaign_id}/drafts/generate"),
    stream=Route("/campaigns/{campaign_id}/drafts/generate/stream/{task_id}"),
    draft=Route("/campaigns/{campaign_id}/drafts/{draft_id}"),
    new_draft_page=Route("/dashboard/campaigns/{campaign_id}/drafts/new"),
    editor_page=Route("/dashboard/campaigns/{campaign_id}/drafts/{draft_id}/edit"),
    task_id_field="task_id",
    stream_url_field=None,  # the page builds the stream URL from the route, as lib/sse.ts does
    payloads=PayloadPaths(
        progress_text="message",
        draft_id="draft.id",
        draft_title="draft.title",
        draft_body="draft.content",
        error_message="message",
    ),
    timings=Timings(
        poll_interval_s=GATE_POLL_INTERVAL_S,
        heartbeat_interval_s=GATE_POLL_INTERVAL_S * KEEPALIVE_POLLS,
        retry_ms=GATE_RETRY_MS,
    ),
    form=(
        FormField(
            "brief",
            "Brief",
            "brief",
            kind="textarea",
            sample="Announce the spring collection to subscribers",
            other="Invite students to the autumn sale",
        ),
        FormField(
            "channel",
            "Channel",
            "channel",
            kind="select",
            options=("email", "linkedin", "blog"),
            sample="email",
            other="linkedin",
        ),
        FormField("word_count", "Word count", "options.word_count", kind="number", sample="300", other="120"),
    ),
    invalid_input={"brief": "too short"},
    messages=Messages(
        generic_failure=GENERIC_FAILURE,
        store_unavailable_stream=STREAM_STORE_LOST,
        store_unavailable_post=STORE_UNAVAILABLE,
        task_not_found=None,  # the app has no such answer: that is its defect
        # FastAPI's default 422 body has no string `detail`; the page says what it can.
        invalid_input="The drafts service answered with HTTP 422.",
    ),
    draft_resource_title="title",
    draft_resource_body="content",
    task_state=TaskStateShape(key="task:{task_id}", ttl_s=3600, stamp_field="updated_at"),
    known_findings={
        "test_unknown_task_shows_a_clear_message_and_stops": (
            "an unknown task reads as PENDING: its stream sends `pending` forever instead of a 404"
        ),
        "test_task_of_another_campaign_is_not_streamed": (
            "the stream does not check the task's campaign: another campaign's progress is streamed"
        ),
    },
)
"""The app as the gate runs it (`--gate-contract examples.production_shape.contract:CONTRACT`)."""

PRODUCTION = dataclasses.replace(
    CONTRACT, timings=Timings(poll_interval_s=1.5, heartbeat_interval_s=15.0, retry_ms=None)
)
"""The same app with its production timings (a deployed instance: `--backend-url`)."""
