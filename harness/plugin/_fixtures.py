"""The gate's fixtures: a ladder from the costly and shared (session) to the cheap and per test.

Session (one per pytest-xdist worker): `gate_options`, `redis_provider`, `scripted_generator`,
`generation_worker`, `wire_log`, `live_frontend`, `backend_settings`, `live_backend`.
Per test: `backend` (state reset), `scripted`, `redis_outage`, `frontend` (page configuration reset),
`fault_proxy`, `foreign_frontend`, `gate_evidence`, `gate_page`.
Every one of them can be overridden in a `conftest.py` by defining a fixture of the same name.

pytest-playwright's `browser_type_launch_args` and `browser_context_args` are extended, not replaced:
its flags (`--browser`, `--headed`, `--tracing`, `--video`, `--screenshot`, `--output`) keep working.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page

from harness.browsers import BrowserChoice, BrowserNotFound, find_browser
from harness.plugin._header import browser_choices
from harness.plugin._options import GateOptions

# The rest is imported where a fixture first needs it: this module is imported by every pytest
# session of an environment the gate is installed in, and FastAPI, uvicorn, Starlette, fakeredis
# and the drafts API cost ~0.8 s of CPU there (bench/plugin_cost.py); a session that requests no
# gate fixture must not pay for them.
if TYPE_CHECKING:
    from drafts_api.settings import Settings
    from harness.proxy import FaultProxy
    from harness.recording import EvidenceCollector, WireLog
    from harness.scripting import ScriptedGenerator
    from harness.servers import FrontendConfig, LiveBackend, LiveServer, WorkerThread
    from harness.state import RedisProvider

RedisOutage = Callable[[], contextlib.AbstractContextManager[None]]
"""`with redis_outage(): ...`: every Redis command fails inside the block."""

# Test timings: fast polls keep the suite quick; every step a page must show is still gated by the
# test through scripted generation, so nothing depends on these values being small.
TEST_HEARTBEAT_POLLS = 4
TEST_RETRY_MS = 250
TEST_RECONNECT_TIMEOUT_MS = 4000


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw3" under pytest-xdist
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


# --- session: one per worker ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def gate_options(pytestconfig: pytest.Config) -> GateOptions:
    """The gate's options (`--sse-client`, `--backend-app`, `--redis-url`, ...), parsed once."""
    return GateOptions.from_config(pytestconfig)


@pytest.fixture(scope="session")
def gate_redis_provider(gate_options: GateOptions) -> Iterator[RedisProvider]:
    """fakeredis by default; with `--redis-url`, a real Redis with one database per xdist worker."""
    from harness.state import RedisUnavailable, make_provider

    try:
        provider = make_provider(gate_options.redis_url, _worker_index())
    except RedisUnavailable as exc:
        # The message says it all (the URL redacted); a traceback would print the URL in clear.
        pytest.fail(str(exc), pytrace=False)
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def gate_scripted_generator() -> ScriptedGenerator:
    """The generator plugged into the backend; tests drive it through `scripted`."""
    from harness.scripting import ScriptedGenerator

    return ScriptedGenerator()


@pytest.fixture(scope="session")
def gate_wire_log() -> WireLog:
    """Everything the backend sent, as it sent it (SSE frames with send times, other responses)."""
    from harness.recording import WireLog

    return WireLog()


@pytest.fixture(scope="session")
def gate_frontend_config() -> FrontendConfig:
    """What the served page's `/config.js` says (`apiBase`, `reconnectTimeoutMs`); `update()` it per test."""
    from harness.servers import FrontendConfig

    return FrontendConfig(apiBase="", reconnectTimeoutMs=TEST_RECONNECT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def gate_live_frontend(gate_options: GateOptions, gate_frontend_config: FrontendConfig) -> Iterator[LiveServer | str]:
    """The frontend's origin: a served static directory (a LiveServer), or `--frontend-url` as is."""
    from harness.servers import STUB_FRONTEND_DIR, LiveServer, frontend_app

    if gate_options.frontend_url:
        yield gate_options.frontend_url
        return
    directory = gate_options.frontend_dir or STUB_FRONTEND_DIR
    server = LiveServer(
        frontend_app(directory, gate_frontend_config, gate_options.sse_client),
        # A fixed port is shifted per xdist worker (3000, 3001, ...) so that workers never clash.
        port=gate_options.frontend_port + _worker_index() if gate_options.frontend_port else 0,
    )
    server.start()
    yield server
    server.stop()


def _frontend_url(gate_live_frontend: LiveServer | str) -> str:
    return gate_live_frontend if isinstance(gate_live_frontend, str) else gate_live_frontend.url


@pytest.fixture(scope="session")
def gate_backend_settings(gate_options: GateOptions, gate_live_frontend: LiveServer | str) -> Settings:
    """The harness backend's settings: test timings, CORS for the frontend's origin only."""
    from drafts_api.settings import Settings
    from harness.servers import origin_of

    return Settings(
        poll_interval=gate_options.poll_interval,
        heartbeat_polls=TEST_HEARTBEAT_POLLS,
        retry_ms=TEST_RETRY_MS,
        cors_origins=[origin_of(_frontend_url(gate_live_frontend))],
        cors_origin_regex=None,
        key_prefix="gate:",
    )


@pytest.fixture(scope="session")
def gate_generation_worker(
    gate_redis_provider: RedisProvider, gate_backend_settings: Settings
) -> Iterator[WorkerThread]:
    """Runs generations outside the backend's lifetime, as a real worker process would."""
    from harness.servers import WorkerThread

    worker = WorkerThread(
        gate_redis_provider.async_client,
        task_ttl=gate_backend_settings.task_ttl,
        key_prefix=gate_backend_settings.key_prefix,
    ).start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def gate_live_backend(
    gate_options: GateOptions,
    gate_backend_settings: Settings,
    gate_scripted_generator: ScriptedGenerator,
    gate_redis_provider: RedisProvider,
    gate_generation_worker: WorkerThread,
    gate_wire_log: WireLog,
) -> Iterator[LiveBackend]:
    """The backend under test, served on 127.0.0.1 by uvicorn in this process (or `--backend-url`)."""
    from harness.recording import WireRecorder
    from harness.servers import (
        BackendParts,
        LiveBackend,
        LiveServer,
        build_default_app,
        fakeredis_from_url,
        load_backend_app,
    )

    if gate_options.backend_url:
        yield LiveBackend(gate_options.backend_url, f"running backend at {gate_options.backend_url}")
        return
    parts = BackendParts(
        gate_backend_settings, gate_scripted_generator, gate_redis_provider.async_client, gate_generation_worker
    )
    # Patched only while the app is imported, built and started (its lifespan runs in start()): the
    # rest of the session, tests/api among it, must get the real `redis.from_url`.
    with fakeredis_from_url(gate_redis_provider):
        if gate_options.backend_app:
            loaded = load_backend_app(gate_options.backend_app, parts)
        else:
            loaded = build_default_app(parts)
        server = LiveServer(WireRecorder(loaded.app, gate_wire_log))
        server.start()
    backend = LiveBackend(server.url, loaded.description, server=server, scriptable=loaded.scriptable)
    yield backend
    backend.stop()


# --- per test --------------------------------------------------------------------------------------


@pytest.fixture
def gate_backend(
    gate_live_backend: LiveBackend,
    gate_redis_provider: RedisProvider,
    gate_scripted_generator: ScriptedGenerator,
    gate_generation_worker: WorkerThread,
) -> LiveBackend:
    """The live backend with a clean slate: no task, draft or held generation from an earlier test."""
    if gate_live_backend.is_local:
        gate_scripted_generator.reset()
        gate_generation_worker.cancel_all()
        gate_redis_provider.flush()
    return gate_live_backend


@pytest.fixture
def gate_scripted(gate_backend: LiveBackend, gate_scripted_generator: ScriptedGenerator) -> ScriptedGenerator:
    """Step the backend's generation from the test: `run = scripted.next_run(); run.progress("...")`."""
    if not gate_backend.scriptable:
        pytest.skip(
            f"scripted generation needs a backend the harness builds with its generator; "
            f"{gate_backend.description} does not accept one"
        )
    return gate_scripted_generator


@pytest.fixture
def gate_redis_outage(gate_backend: LiveBackend, gate_redis_provider: RedisProvider) -> RedisOutage:
    """`with redis_outage(): ...` makes every Redis command fail, then heals (fakeredis only)."""
    if not gate_backend.is_local:
        pytest.skip(f"cannot take down the Redis of {gate_backend.description}")
    return gate_redis_provider.outage


@pytest.fixture
def gate_frontend(
    gate_live_frontend: LiveServer | str, gate_frontend_config: FrontendConfig, gate_backend: LiveBackend
) -> Iterator[str]:
    """The frontend's URL, its `/config.js` pointing the page at the live backend."""
    gate_frontend_config.reset()
    gate_frontend_config.update(apiBase=gate_backend.url)
    yield _frontend_url(gate_live_frontend)
    gate_frontend_config.reset()


@pytest.fixture
def gate_fault_proxy(
    gate_backend: LiveBackend, gate_frontend: str, gate_frontend_config: FrontendConfig
) -> Iterator[FaultProxy]:
    """A fault-injecting proxy between page and backend; the page's API base points at it."""
    from harness.proxy import FaultProxy

    with FaultProxy(gate_backend.url) as proxy:
        gate_frontend_config.update(apiBase=proxy.url)
        yield proxy


@pytest.fixture
def gate_foreign_frontend(
    gate_options: GateOptions, gate_frontend_config: FrontendConfig, gate_frontend: str
) -> Iterator[str]:
    """The same frontend served from an origin the backend's CORS settings do not allow."""
    from harness.servers import STUB_FRONTEND_DIR, LiveServer, frontend_app

    if gate_options.frontend_url:
        pytest.skip("a second origin needs a frontend the harness serves (not --frontend-url)")
    directory = gate_options.frontend_dir or STUB_FRONTEND_DIR
    with LiveServer(frontend_app(directory, gate_frontend_config, gate_options.sse_client)) as server:
        yield server.url


@pytest.fixture
def gate_evidence(
    request: pytest.FixtureRequest, page: Page, gate_wire_log: WireLog, output_path: str
) -> Iterator[EvidenceCollector]:
    """Records what the page and the backend did, for the failure report and its diagnosis."""
    from harness.recording import EvidenceCollector

    collector = EvidenceCollector(request.node.nodeid, page, gate_wire_log, Path(output_path))
    collector.start()
    request.node.stash[EvidenceCollector.STASH_KEY] = collector
    yield collector
    collector.stop()


@pytest.fixture
def gate_page(page: Page, gate_frontend: str, gate_backend: LiveBackend, gate_evidence: EvidenceCollector) -> Page:
    """pytest-playwright's `page`, on the frontend's origin, with the gate's evidence recording on."""
    return page


# --- pytest-playwright, extended -------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def delete_output_dir() -> None:
    """Off: the gate empties `--output` once per run, before any worker starts (see harness.plugin)."""


def browser_choice(config: pytest.Config, browser_name: str) -> BrowserChoice:
    """`find_browser`, once per session and only when a browser is launched: it runs Playwright's
    driver and the browser itself (0.4-1 s on a 2-core machine); the summary names the choice."""
    choices = browser_choices(config)
    if browser_name not in choices:
        choices[browser_name] = find_browser(browser_name)
    return choices[browser_name]


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], browser_name: str, pytestconfig: pytest.Config
) -> dict[str, Any]:
    """Playwright's own browser where installed, else a system Chromium with the flags it needs here."""
    if browser_type_launch_args.get("executable_path") or browser_type_launch_args.get("channel"):
        return browser_type_launch_args
    try:
        choice = browser_choice(pytestconfig, browser_name)
    except BrowserNotFound as exc:
        pytest.fail(str(exc), pytrace=False)
    if choice.executable_path is None:
        return browser_type_launch_args
    args = [*browser_type_launch_args.get("args", []), *choice.launch_args]
    return {**browser_type_launch_args, "executable_path": choice.executable_path, "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], gate_live_frontend: LiveServer | str) -> dict[str, Any]:
    """Pages open relative to the frontend (not pytest-base-url's `base_url`, which every session reads)."""
    return {**browser_context_args, "base_url": _frontend_url(gate_live_frontend)}
