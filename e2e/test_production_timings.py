"""The flow with production timings (1.5 s poll, 15 s heartbeat): out of `make e2e`, run by `make test`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from drafts_api.app import create_app
from drafts_api.settings import Settings
from harness.contract import DRAFTS_API, AppContract
from harness.pages import EditorPage, NewDraftPage
from harness.scripting import ScriptedGenerator
from harness.servers import FrontendConfig, LiveServer, origin_of
from harness.state import RedisProvider

pytestmark = pytest.mark.slow


@pytest.fixture
def production_backend(
    gate_frontend: str,
    gate_frontend_config: FrontendConfig,
    gate_redis_provider: RedisProvider,
    gate_scripted_generator: ScriptedGenerator,
    gate_contract: AppContract,
) -> Iterator[LiveServer]:
    if gate_contract.name != DRAFTS_API.name:
        pytest.skip(
            f"runs drafts_api itself with production timings; the contract under test is {gate_contract.name!r}"
        )
    settings = Settings(cors_origins=[origin_of(gate_frontend)])  # defaults are the production timings
    assert (settings.poll_interval, settings.heartbeat_interval) == (1.5, 15.0)
    app = create_app(settings, generator=gate_scripted_generator, redis_factory=gate_redis_provider.async_client)
    with LiveServer(app) as server:
        gate_frontend_config.update(apiBase=server.url)
        yield server


def test_generate_flow_with_production_timings(
    gate_page: Page, production_backend: LiveServer, gate_scripted_generator: ScriptedGenerator
) -> None:
    """Fails if: the production poll interval or retry settings break the flow (e.g. a page timeout
    shorter than one poll). Bounds derive from the production timings DRAFTS_API declares."""
    bound_ms = DRAFTS_API.timings.event_bound_ms(margin_s=2.0)
    new_draft = NewDraftPage(gate_page, DRAFTS_API).open().fill()
    new_draft.generate()
    run = gate_scripted_generator.next_run()
    for message in ("Analyzing...", "Writing..."):
        run.progress(message)
        expect(new_draft.status).to_have_text(message, timeout=bound_ms)
    run.succeed(title="In production time")
    expect(EditorPage(gate_page, DRAFTS_API).heading).to_have_text("In production time", timeout=bound_ms)
