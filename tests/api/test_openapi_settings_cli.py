"""What the API says about itself: the OpenAPI document, its settings, its command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import drafts_api
from drafts_api.app import create_app
from drafts_api.openapi import payload_schema
from drafts_api.protocol import STREAM_EVENTS, generate_path, stream_path
from drafts_api.settings import Settings

pytestmark = pytest.mark.timeout(60)

SETTINGS_ENV = (
    "REDIS_URL",
    "DRAFTS_REDIS_URL",
    "DRAFTS_POLL_INTERVAL",
    "DRAFTS_HEARTBEAT_POLLS",
    "DRAFTS_CORS_ORIGINS",
    "DRAFTS_CORS_ORIGIN_REGEX",
)


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Settings(redis_url=None)).openapi()
    return document


def test_openapi_describes_the_stream_and_every_event(openapi: dict[str, Any]) -> None:
    """fails if: the stream route is documented as JSON, or its events/payload schemas drift from the protocol."""
    operation = openapi["paths"][stream_path("{campaign_id}", "{task_id}")]["get"]
    ok = operation["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"], ok["content"].keys()
    media = ok["content"]["text/event-stream"]
    assert media["x-sse-events"] == {name: payload_schema(model) for name, model in STREAM_EVENTS.items()}
    items = {item["properties"]["event"]["const"]: item for item in media["itemSchema"]["oneOf"]}
    assert list(items) == list(STREAM_EVENTS), items.keys()
    for name, model in STREAM_EVENTS.items():
        assert items[name]["properties"]["data"]["contentSchema"] == payload_schema(model), name
    refs = _refs(media)
    assert refs and refs <= {f"#/components/schemas/{name}" for name in openapi["components"]["schemas"]}, refs
    missing = [name for name in STREAM_EVENTS if f"`{name}`" not in ok["description"]]
    assert not missing, f"the description does not name {missing}: {ok['description']!r}"
    assert operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {node["$ref"]} if "$ref" in node else set().union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_openapi_publishes_the_limits_as_enforced(openapi: dict[str, Any]) -> None:
    """fails if: the text fields publish raw lengths while the API strips whitespace before checking them."""
    fields = openapi["components"]["schemas"]["GenerateRequest"]["properties"]
    for name in ("topic", "audience"):
        assert "maxLength" not in fields[name] and "pattern" in fields[name], fields[name]
    assert "pattern" in fields["key_points"]["items"], fields["key_points"]
    responses = openapi["paths"][generate_path("{campaign_id}")]["post"]["responses"]
    assert {"400", "413", "422", "503"} <= set(responses), responses.keys()


def test_openapi_documents_the_error_bodies_actually_sent(openapi: dict[str, Any]) -> None:
    """fails if: 422/503 are documented with FastAPI's default schema instead of `ErrorResponse`."""
    responses = openapi["paths"][generate_path("{campaign_id}")]["post"]["responses"]
    assert responses["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/GenerateAccepted")
    for status in ("422", "503"):
        assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse"), status


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """fails if: an env name changes, REDIS_URL is not honoured, or origins are not split on commas."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DRAFTS_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("DRAFTS_HEARTBEAT_POLLS", "3")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/2")
    monkeypatch.setenv("DRAFTS_CORS_ORIGINS", "https://app.example, https://preview.example,")
    settings = Settings()
    assert settings.poll_interval == 0.05
    assert settings.heartbeat_interval == pytest.approx(0.15)
    assert settings.redis_url == "redis://127.0.0.1:6390/2"
    assert settings.cors_origins == ["https://app.example", "https://preview.example"]


def test_settings_reject_nonsense_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """fails if: a zero poll interval (a busy loop against Redis) is accepted."""
    monkeypatch.setenv("DRAFTS_POLL_INTERVAL", "0")
    with pytest.raises(ValidationError, match="poll_interval"):
        Settings()


def test_module_help_runs() -> None:
    """`python -m drafts_api --help` prints its options and exits 0.

    fails if: the entry module breaks on import or its arguments are not documented.
    """
    repo_root = Path(drafts_api.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "drafts_api", "--help"], capture_output=True, text=True, timeout=30, env=env
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    for option in ("--host", "--port", "--redis-url", "--cors-origin"):
        assert option in result.stdout, f"{option} missing from --help:\n{result.stdout}"
