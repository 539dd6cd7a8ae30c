"""CORS: the page's origins (list and regex) may call the API and read the stream; others may not."""

from __future__ import annotations

import pytest

from drafts_api.protocol import generate_path

from .api_backend import DEFAULT_CAMPAIGN, PAGE_ORIGIN, ApiBackend, generate_body

pytestmark = pytest.mark.timeout(30)

ALLOWED = [PAGE_ORIGIN, "http://preview-42.drafts.test"]  # listed; matched by the regex
REFUSED = ["http://evil.example", "http://preview-42.drafts.test.evil.example", "http://127.0.0.1:3001"]


@pytest.mark.parametrize("origin", ALLOWED)
def test_allowed_origin_may_post_and_read_the_stream(backend: ApiBackend, origin: str) -> None:
    """fails if: CORS is missing, ignores `cors_origin_regex`, or the stream response lacks the header
    (the page's EventSource then fails with only a console message)."""
    response = backend.client.post(generate_path(DEFAULT_CAMPAIGN), json=generate_body(), headers={"Origin": origin})
    assert response.status_code == 202, response.text
    assert response.headers.get("access-control-allow-origin") == origin, response.headers
    backend.generator.next_run()  # STARTED is written: the stream begins with `started`
    with backend.stream(response.json()["stream_url"], headers={"Origin": origin}) as stream:
        assert stream.response.headers.get("access-control-allow-origin") == origin, stream.response.headers
        stream.expect("started")


@pytest.mark.parametrize("origin", REFUSED)
def test_other_origins_get_no_cors_grant(backend: ApiBackend, origin: str) -> None:
    """fails if: CORS allows any origin (`*`, reflection) or the regex is not anchored."""
    response = backend.client.post(generate_path(DEFAULT_CAMPAIGN), json=generate_body(), headers={"Origin": origin})
    assert "access-control-allow-origin" not in response.headers, response.headers
    with backend.stream(response.json()["stream_url"], headers={"Origin": origin}) as stream:
        assert "access-control-allow-origin" not in stream.response.headers, stream.response.headers


def test_preflight_allows_the_page_and_refuses_others(backend: ApiBackend) -> None:
    """The JSON POST needs a preflight: granted to the page's origin with POST and Content-Type.

    fails if: the preflight is not answered, or lacks the method or header the page's POST uses.
    """
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    path = generate_path(DEFAULT_CAMPAIGN)
    granted = backend.client.options(path, headers={"Origin": PAGE_ORIGIN, **preflight})
    assert granted.status_code == 200, granted.text
    assert granted.headers.get("access-control-allow-origin") == PAGE_ORIGIN, granted.headers
    assert "POST" in granted.headers.get("access-control-allow-methods", ""), granted.headers
    assert "content-type" in granted.headers.get("access-control-allow-headers", "").lower(), granted.headers
    refused = backend.client.options(path, headers={"Origin": REFUSED[0], **preflight})
    assert refused.status_code == 400, refused.text
    assert "access-control-allow-origin" not in refused.headers, refused.headers
