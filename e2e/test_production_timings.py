"""The flow with production timings (1.5 s poll, 15 s heartbeat): out of `make e2e`, run by `make test`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from drafts_api.app import create_app
from drafts_api.settings import Settings
from harness._frontend import FrontendConfig, origin_of
from harness._live_server import LiveServer
from harness._redis import RedisProvider
from harness.pages import EditorPage, NewDraftPage
from harness.scripted import ScriptedGenerator

pytestmark = pytest.mark.slow


@pytest.fixture
def production_backend(
    frontend: str,
    frontend_config: FrontendConfig,
    redis_provider: RedisProvider,
    scripted_generator: ScriptedGenerator,
) -> Iterator[LiveServer]:
    settings = Settings(cors_origins=[origin_of(frontend)])  # defaults are the production timings
    assert (settings.poll_interval, settings.heartbeat_interval) == (1.5, 15.0)
    app = create_app(settings, generator=scripted_generator, redis_factory=redis_provider.async_client)
    with LiveServer(app) as server:
        frontend_config.update(apiBase=server.url)
        yield server


def test_generate_flow_with_production_timings(
    gate_page: Page, production_backend: LiveServer, scripted: ScriptedGenerator
) -> None:
    """Fails if: the production poll interval or retry settings break the flow (e.g. a page timeout
    shorter than one poll)."""
    new_draft = NewDraftPage(gate_page).open().fill()
    new_draft.generate()
    run = scripted.next_run()
    for message in ("Analyzing...", "Writing..."):
        run.progress(message)
        expect(new_draft.status).to_have_text(message, timeout=5000)
    run.succeed(title="In production time")
    expect(EditorPage(gate_page).heading).to_have_text("In production time", timeout=5000)
