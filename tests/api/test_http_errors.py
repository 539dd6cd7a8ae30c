"""The JSON side of the API: the 202 answer, 404s, 422s and campaign ownership."""

from __future__ import annotations

import re
from typing import Any

import pytest

from drafts_api.app import TASK_NOT_FOUND_DETAIL
from drafts_api.protocol import draft_path, generate_path, stream_path

from .api_backend import DEFAULT_CAMPAIGN, ApiBackend, generate_body

pytestmark = pytest.mark.timeout(30)

UNISSUED_ID = "Zm9yZ2VkLXRhc2staWQtMDAx"  # well-formed, never handed out


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"] == "application/json", response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"], f"no readable detail: {body}"
    return body


def test_generate_answers_202_with_the_path_of_its_stream(backend: ApiBackend) -> None:
    """fails if: the task id is guessable/short, or `stream_url` is not the stream route of this task."""
    accepted = backend.generate(campaign_id="summer-2025")
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", accepted.task_id), accepted
    assert accepted.stream_url == stream_path("summer-2025", accepted.task_id)


def test_unknown_task_is_a_404_json_before_any_stream(backend: ApiBackend) -> None:
    """fails if: an unknown task opens a 200 stream (EventSource would reconnect to it forever)."""
    response = backend.get_refusal(stream_path(DEFAULT_CAMPAIGN, UNISSUED_ID))
    assert assert_json_error(response, 404) == {"detail": TASK_NOT_FOUND_DETAIL, "errors": []}


def test_task_of_another_campaign_is_a_404(backend: ApiBackend) -> None:
    """A task id is only valid under the campaign it was created for.

    fails if: the stream route ignores the campaign in its path (anyone can follow any task).
    """
    accepted, _held = backend.start_generation(campaign_id="campaign-a")
    response = backend.get_refusal(stream_path("campaign-b", accepted.task_id))
    assert assert_json_error(response, 404)["detail"] == TASK_NOT_FOUND_DETAIL
    with backend.stream(stream_path("campaign-a", accepted.task_id)) as stream:
        stream.expect("started")  # the owner's stream works


def test_unknown_draft_is_a_404_json(backend: ApiBackend) -> None:
    """fails if: a missing draft gives 200 with null, a 500, or HTML."""
    assert_json_error(backend.client.get(draft_path(UNISSUED_ID)), 404)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"topic": "ab"}, "topic"),
        ({"topic": "x" * 201}, "topic"),
        ({"audience": ""}, "audience"),
        ({"tone": "sarcastic"}, "tone"),
        ({"length": "epic"}, "length"),
        ({"key_points": [f"point {n}" for n in range(11)]}, "key_points"),
        ({"key_points": ["fine", " "]}, "key_points"),
        ({"priority": "high"}, "priority"),
    ],
    ids=["topic-short", "topic-long", "audience-empty", "tone", "length", "too-many-points", "blank-point", "extra"],
)
def test_invalid_body_is_a_422_naming_the_field(backend: ApiBackend, overrides: dict[str, Any], field: str) -> None:
    """fails if: validation errors come back as FastAPI's raw list, a 500, or without the field's name."""
    response = backend.client.post(generate_path(DEFAULT_CAMPAIGN), json=generate_body(**overrides))
    body = assert_json_error(response, 422)
    assert body["detail"].startswith("Invalid request"), body
    assert field in body["detail"], f"the detail does not name {field!r}: {body['detail']!r}"
    assert body["errors"] and all(isinstance(error, str) for error in body["errors"]), body


def test_missing_fields_and_broken_json_are_422(backend: ApiBackend) -> None:
    """fails if: a body that is not JSON, or lacks required fields, is a 500 or a 400 without detail."""
    missing = backend.client.post(generate_path(DEFAULT_CAMPAIGN), json={"tone": "friendly"})
    assert {"topic", "audience"} <= {e.split(":")[0] for e in assert_json_error(missing, 422)["errors"]}
    broken = backend.client.post(
        generate_path(DEFAULT_CAMPAIGN), content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_json_error(broken, 422)


def test_malformed_ids_in_the_path_are_422(backend: ApiBackend) -> None:
    """fails if: ids are not validated (they end up in Redis keys) or a bad one gives a 500."""
    assert_json_error(backend.client.post(generate_path("no spaces!"), json=generate_body()), 422)
    assert_json_error(backend.get_refusal(stream_path(DEFAULT_CAMPAIGN, "bad*id")), 422)
