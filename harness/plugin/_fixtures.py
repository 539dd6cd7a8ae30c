"""The gate's fixtures: a ladder from the costly and shared (session) to the cheap and per test.

Session (one per pytest-xdist worker): `gate_options`, `gate_contract`, `gate_redis_provider`,
`gate_scripted_generator`, `gate_task_state_scripter`, `gate_generation_worker`, `gate_wire_log`,
`gate_frontend_config`, `gate_live_frontend`, `gate_backend_settings`, `gate_live_backend`.
Per test: `gate_backend` (state reset), `gate_scripted`, `gate_redis_outage`, `gate_frontend` (page
configuration reset), `gate_fault_proxy`, `gate_foreign_frontend`, `gate_evidence`, `gate_page`,
`gate_new_draft` (the page open and filled), `gate_start_generation` (Generate clicked, one progress
message shown: the opening most scenarios share).
Every one of them can be overridden in a `conftest.py` by defining a fixture of the same name.

pytest-playwright's fixtures, extended, are in `harness.plugin._browser`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest
from playwright.sync_api import Page, expect

from harness.contract import DRAFTS_API, AppContract, ContractSpecError, Timings, load_contract
from harness.pages import NewDraftPage
from harness.plugin._browser import _fresh_context_reason, _frontend_url
from harness.plugin._options import GateOptions

# The rest is imported where a fixture first needs it: this module is imported by every pytest
# session of an environment the gate is installed in, and FastAPI, uvicorn, Starlette, fakeredis
# and the drafts API cost ~0.8 s of CPU there (bench/plugin_cost.py); a session that requests no
# gate fixture must not pay for them. (harness.contract and harness.pages are plain Python.)
if TYPE_CHECKING:
    from drafts_api.settings import Settings
    from harness.proxy import FaultProxy
    from harness.recording import EvidenceCollector, WireLog
    from harness.scripting import Scripted, ScriptedGenerator, ScriptedRun, TaskStateRun, TaskStateScripter
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
def gate_contract(gate_options: GateOptions) -> AppContract:
    """The app's contract: `--gate-contract MODULE:ATTR` (ini `gate_contract`), or override this
    fixture in a conftest. Default: drafts_api's, with the timings the harness runs it with (the
    production ones against `--backend-url`)."""
    if gate_options.contract:
        try:
            return load_contract(gate_options.contract)
        except ContractSpecError as exc:
            raise pytest.UsageError(str(exc)) from exc
    if gate_options.backend_url:
        return DRAFTS_API  # a deployed drafts_api (staging) runs with the production timings
    # drafts_api, or a variant of it built from `parts.settings` (`--backend-app`, the backend mutants):
    # the harness's test timings.
    timings = Timings(
        poll_interval_s=gate_options.poll_interval,
        heartbeat_interval_s=gate_options.poll_interval * TEST_HEARTBEAT_POLLS,
        retry_ms=TEST_RETRY_MS,
    )
    return dataclasses.replace(DRAFTS_API, timings=timings)


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
def gate_task_state_scripter(
    gate_contract: AppContract, gate_redis_provider: RedisProvider
) -> TaskStateScripter | None:
    """Steps an app with its own worker by its task state; None when the contract declares none."""
    from harness.scripting import TaskStateScripter

    if gate_contract.task_state is None:
        return None
    return TaskStateScripter(gate_contract, gate_redis_provider.sync_client)


@pytest.fixture(scope="session")
def gate_frontend_config(gate_contract: AppContract) -> FrontendConfig:
    """What the served page's `/config.js` says (`apiBase`, `reconnectTimeoutMs`, `redirectDelayMs`,
    the contract's routes and form); `update()` it per test."""
    from harness.servers import FrontendConfig

    return FrontendConfig(
        apiBase="", reconnectTimeoutMs=TEST_RECONNECT_TIMEOUT_MS, redirectDelayMs=0, **gate_contract.frontend_config()
    )


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
    gate_contract: AppContract,
    gate_task_state_scripter: TaskStateScripter | None,
) -> Iterator[LiveBackend]:
    """The backend under test, served on 127.0.0.1 by uvicorn in this process (or `--backend-url`)."""
    from harness.recording import WireRecorder
    from harness.servers import BackendParts, LiveBackend, LiveServer, ResetHooks, build_default_app, load_backend_app
    from harness.state import route_fake_url

    if gate_options.backend_url:
        yield LiveBackend(gate_options.backend_url, f"running backend at {gate_options.backend_url}")
        return
    resets = ResetHooks()
    parts = BackendParts(
        settings=gate_backend_settings,
        generator=gate_scripted_generator,
        redis_factory=gate_redis_provider.async_client,
        runner=gate_generation_worker,
        sync_redis_factory=gate_redis_provider.sync_client,
        redis_url=gate_redis_provider.url,
        contract=gate_contract,
        cors_origins=tuple(gate_backend_settings.cors_origins),
        held_generation=gate_task_state_scripter,
        on_reset=resets,
    )
    # The fakeredis URL is routed for the backend's whole lifetime (its clients may be built on the
    # first request, or again after a restart); only that URL is, so the rest of the session
    # (tests/api among it) keeps the real redis-py. See harness.state.route_fake_url.
    with route_fake_url(gate_redis_provider):
        if gate_options.backend_app:
            loaded = load_backend_app(gate_options.backend_app, parts)
        else:
            loaded = build_default_app(parts)
        server = LiveServer(WireRecorder(loaded.app, gate_wire_log))
        server.start()
        backend = LiveBackend(
            server.url,
            loaded.description,
            server=server,
            scripting=loaded.scripting,
            wire_log=gate_wire_log,
            on_reset=resets,
        )
        yield backend
        backend.stop()


# --- per test --------------------------------------------------------------------------------------


@pytest.fixture
def gate_backend(
    gate_live_backend: LiveBackend,
    gate_redis_provider: RedisProvider,
    gate_scripted_generator: ScriptedGenerator,
    gate_generation_worker: WorkerThread,
    gate_task_state_scripter: TaskStateScripter | None,
) -> LiveBackend:
    """The live backend with a clean slate: no task, draft or held generation from an earlier test,
    and the app's own reset hooks run (`parts.on_reset`)."""
    if gate_live_backend.is_local:
        gate_scripted_generator.reset()
        if gate_task_state_scripter is not None:
            gate_task_state_scripter.reset()
        gate_generation_worker.cancel_all()
        gate_redis_provider.flush()
        gate_live_backend.on_reset.run()
        gate_live_backend.begin_test()
    return gate_live_backend


@pytest.fixture
def gate_scripted(
    gate_backend: LiveBackend,
    gate_scripted_generator: ScriptedGenerator,
    gate_task_state_scripter: TaskStateScripter | None,
) -> Scripted:
    """Step the backend's generation from the test: `run = gate_scripted.next_run(); run.progress("...")`.

    Through the app's generator seam (drafts_api), or, for an app with its own worker, by writing its
    task state (the contract's `task_state`, the app's generation service held by `held_generation`)."""
    if gate_backend.scripting == "task_state" and gate_task_state_scripter is not None:
        return gate_task_state_scripter
    if gate_backend.scripting != "generator":
        pytest.skip(
            f"scripted generation needs a backend the harness builds with its generator, or one that hands "
            f"`held_generation` to its generation service; {gate_backend.description} does neither"
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
    request: pytest.FixtureRequest,
    page: Page,
    gate_wire_log: WireLog,
    output_path: str,
    gate_contract: AppContract,
) -> Iterator[EvidenceCollector]:
    """Records what the page and the backend did, for the failure report and its diagnosis."""
    from harness.recording import EvidenceCollector

    shared = None if _fresh_context_reason(request) else request.getfixturevalue("gate_reused_context")
    recorder = shared.recorder if shared is not None and shared.owns(page.context) else None
    collector = EvidenceCollector(
        request.node.nodeid, page, gate_wire_log, Path(output_path), recorder, contract=gate_contract
    )
    collector.start()
    request.node.stash[EvidenceCollector.STASH_KEY] = collector
    yield collector
    collector.stop()


@pytest.fixture
def gate_page(page: Page, gate_frontend: str, gate_backend: LiveBackend, gate_evidence: EvidenceCollector) -> Page:
    """pytest-playwright's `page`, on the frontend's origin, with the gate's evidence recording on."""
    return page


@pytest.fixture
def gate_new_draft(gate_page: Page, gate_contract: AppContract) -> NewDraftPage:
    """The new-draft page of the contract's campaign, open and filled with the contract's samples."""
    return NewDraftPage(gate_page, gate_contract).open().fill()


if TYPE_CHECKING:
    Run = ScriptedRun | TaskStateRun


class StartGeneration(Protocol):
    def __call__(self, message: str = ...) -> Run: ...


@pytest.fixture
def gate_start_generation(gate_new_draft: NewDraftPage, gate_scripted: Scripted) -> StartGeneration:
    """The opening most scenarios share: click Generate, take the held run, report `message` and see
    it on the page. `run = gate_start_generation("Writing...")`."""

    def start(message: str = "Writing...") -> Run:
        gate_new_draft.generate()
        run: Run = gate_scripted.next_run()
        run.progress(message)
        expect(gate_new_draft.status).to_have_text(message)
        return run

    return start
