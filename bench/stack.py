"""The floor: the gate's backend, frontend and browser built by hand, without pytest or the harness's fixtures.

Same parts as the harness's session fixtures (`drafts_api.create_app` with `ScriptedGenerator`, the
test `Settings`, fakeredis, the worker thread, the stub frontend with its `/config.js`, the same
browser binary and flags) but none of the per-test machinery: no state reset, no wire recorder, no
evidence collector, no pytest. What a careful engineer would write to drive the flow once by hand.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from playwright.sync_api import Browser, sync_playwright

from drafts_api.app import create_app
from drafts_api.settings import Settings
from harness.browsers import find_browser
from harness.plugin import TEST_HEARTBEAT_POLLS, TEST_RECONNECT_TIMEOUT_MS, TEST_RETRY_MS
from harness.scripting import ScriptedGenerator
from harness.servers import STUB_FRONTEND_DIR, FrontendConfig, LiveServer, WorkerThread, frontend_app, origin_of
from harness.state import FakeRedisProvider

TEST_POLL_INTERVAL_S = 0.05  # the harness's default (`gate_poll_interval` ini)
PRODUCTION_POLL_INTERVAL_S = Settings.model_fields["poll_interval"].default


@dataclass
class Stack:
    """A running backend + frontend + browser; `ready_at` holds wall-clock times of each becoming ready."""

    backend_url: str
    frontend_url: str
    scripted: ScriptedGenerator
    browser: Browser
    ready_at: dict[str, float] = field(default_factory=dict)


def settings_for(poll_interval: float, frontend_origin: str) -> Settings:
    """The harness's test settings (the `gate_backend_settings` fixture); production ones past the test poll."""
    if poll_interval == PRODUCTION_POLL_INTERVAL_S:
        return Settings(cors_origins=[frontend_origin])  # the defaults are the production timings
    return Settings(
        poll_interval=poll_interval,
        heartbeat_polls=TEST_HEARTBEAT_POLLS,
        retry_ms=TEST_RETRY_MS,
        cors_origins=[frontend_origin],
        cors_origin_regex=None,
        key_prefix="gate:",
    )


@contextlib.contextmanager
def bare_stack(poll_interval: float = TEST_POLL_INTERVAL_S, browser_name: str = "chromium") -> Iterator[Stack]:
    ready_at: dict[str, float] = {}
    config = FrontendConfig(apiBase="", reconnectTimeoutMs=TEST_RECONNECT_TIMEOUT_MS)
    with contextlib.ExitStack() as stack:
        frontend = stack.enter_context(LiveServer(frontend_app(STUB_FRONTEND_DIR, config)))
        ready_at["frontend"] = time.time()

        settings = settings_for(poll_interval, origin_of(frontend.url))
        redis_provider = FakeRedisProvider()
        worker = WorkerThread(
            redis_provider.async_client, task_ttl=settings.task_ttl, key_prefix=settings.key_prefix
        ).start()
        stack.callback(worker.stop)
        scripted = ScriptedGenerator()
        app = create_app(settings, generator=scripted, redis_factory=redis_provider.async_client, runner=worker)
        backend = stack.enter_context(LiveServer(app))
        config.update(apiBase=backend.url)
        ready_at["backend"] = time.time()

        choice = find_browser(browser_name)
        playwright = stack.enter_context(sync_playwright())
        launch_args: dict[str, object] = {}
        if choice.executable_path is not None:
            launch_args = {"executable_path": choice.executable_path, "args": list(choice.launch_args)}
        browser = getattr(playwright, browser_name).launch(headless=True, **launch_args)
        stack.callback(browser.close)
        ready_at["browser"] = time.time()
        yield Stack(backend.url, frontend.url, scripted, browser, ready_at)
