"""harness.contract: route templates, payload paths, and the default contract matching drafts_api."""

from __future__ import annotations

import pytest

from drafts_api.protocol import STREAM_EVENTS, TERMINAL_EVENTS, draft_path, generate_path, stream_path
from harness.contract import DRAFTS_API, Route, read_path


def test_route_fills_and_matches_its_own_paths_only() -> None:
    """Fails if: a placeholder matches across segments, or a query string breaks the match."""
    route = Route("/v1/campaigns/{campaign_id}/drafts/generate/stream/{task_id}")
    path = route.fill(campaign_id="c-1", task_id="t1")
    assert path == "/v1/campaigns/c-1/drafts/generate/stream/t1"
    assert route.match(path + "?x=1") == {"campaign_id": "c-1", "task_id": "t1"}
    assert route.match("/v1/campaigns/c-1/x/drafts/generate/stream/t1") is None
    assert route.match("/v1/campaigns/c-1/drafts/generate/stream/") is None


def test_route_refuses_unknown_or_missing_placeholders() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholders \['id'\]"):
        Route("/v1/drafts/{id}")
    with pytest.raises(ValueError, match=r"needs \['task_id'\]"):
        Route("/s/{task_id}").fill(campaign_id="c")


@pytest.mark.parametrize(
    ("payload", "path", "expected"),
    [
        ({"draft": {"id": "d1"}}, "draft.id", "d1"),
        ({"draft": {"id": "d1"}}, "draft.title", None),
        ({"result": {"draft_id": 7}}, "result.draft_id", 7),
        ({"items": ["a", "b"]}, "items.1", "b"),
        ("not an object", "message", None),
        ({"message": None}, "message", None),
    ],
)
def test_read_path(payload: object, path: str, expected: object) -> None:
    assert read_path(payload, path) == expected


def test_default_contract_is_the_reference_app() -> None:
    """Fails if: the default contract drifts from what drafts_api serves."""
    assert DRAFTS_API.generate.fill(campaign_id="c") == generate_path("c")
    assert DRAFTS_API.stream.fill(campaign_id="c", task_id="t") == stream_path("c", "t")
    assert DRAFTS_API.draft.fill(draft_id="d") == draft_path("d")
    assert set(DRAFTS_API.events.all) == set(STREAM_EVENTS)
    assert DRAFTS_API.events.terminal == TERMINAL_EVENTS
    assert DRAFTS_API.stream_ids(stream_path("c", "t")) == ("c", "t")
    assert DRAFTS_API.draft_id({"type": "complete", "draft": {"id": "d9"}}) == "d9"
    assert DRAFTS_API.draft_id({"draft": {"id": True}}) is None
