"""The gate's extensions of pytest-playwright: which browser, the page's base URL, and the worker's
shared context and page.

`browser_type_launch_args` and `browser_context_args` are extended, not replaced: its flags
(`--browser`, `--headed`, `--tracing`, `--video`, `--screenshot`, `--output`) keep working. Its
`context` and `page` are overridden: one context and page per worker (`gate_reused_context`), reset
between tests (see `harness.plugin._reuse`), with a trace and a screenshot per test as before;
`@pytest.mark.gate_fresh_context` gives a test pytest-playwright's own fresh context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from harness.browsers import BrowserChoice, BrowserNotFound, find_browser
from harness.plugin._header import browser_choices
from harness.plugin._marks import FRESH_CONTEXT_MARK, TEST_FAILED

if TYPE_CHECKING:
    from harness.contract import AppContract
    from harness.plugin._reuse import ReusedContext
    from harness.servers import LiveServer


def _frontend_url(gate_live_frontend: LiveServer | str) -> str:
    return gate_live_frontend if isinstance(gate_live_frontend, str) else gate_live_frontend.url


@pytest.fixture(scope="session", autouse=True)
def delete_output_dir() -> None:
    """Off: the gate empties `--output` once per run, before any worker starts (see harness.plugin)."""


def browser_choice(config: pytest.Config, browser_name: str, headless: bool = True) -> BrowserChoice:
    """`find_browser`, once per session and only when a browser is launched: it runs Playwright's
    driver and the browser itself (0.4-1 s on a 2-core machine); the summary names the choice.
    (`--headed` is fixed for a session, so the choice is kept by browser name alone.)"""
    choices = browser_choices(config)
    if browser_name not in choices:
        choices[browser_name] = find_browser(browser_name, headless=headless)
    return choices[browser_name]


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], browser_name: str, pytestconfig: pytest.Config
) -> dict[str, Any]:
    """Playwright's own browser where installed, else a system Chromium with the flags it needs here."""
    if browser_type_launch_args.get("executable_path") or browser_type_launch_args.get("channel"):
        return browser_type_launch_args
    try:
        choice = browser_choice(pytestconfig, browser_name, headless=browser_type_launch_args.get("headless", True))
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


def _fresh_context_reason(request: pytest.FixtureRequest) -> str | None:
    """Why this test cannot share the worker's context (None: it can)."""
    if request.node.get_closest_marker(FRESH_CONTEXT_MARK) is not None:
        return f"@pytest.mark.{FRESH_CONTEXT_MARK}"
    if request.node.get_closest_marker("browser_context_args") is not None:
        return "@pytest.mark.browser_context_args (a context of its own arguments)"
    if request.config.getoption("video", None) in ("on", "retain-on-failure"):
        return "--video (one video per context)"
    return None


@pytest.fixture(scope="session")
def gate_reused_context(
    browser: Browser, browser_context_args: dict[str, Any], gate_contract: AppContract
) -> Iterator[ReusedContext]:
    """The worker's shared browser context and page, reset between tests (`harness.plugin._reuse`)."""
    from harness.plugin._reuse import ReusedContext

    shared = ReusedContext(browser, browser_context_args, gate_contract.events.all)
    yield shared
    shared.recycle()


@pytest.fixture
def context(
    request: pytest.FixtureRequest,
    new_context: Callable[..., BrowserContext],
    _artifacts_recorder: Any,
    pytestconfig: pytest.Config,
) -> Iterator[BrowserContext]:
    """pytest-playwright's `context`, shared by the worker's tests unless the test needs its own.

    On the shared context, tracing starts and stops per test and pytest-playwright's artifacts
    recorder takes its screenshots and trace before the reset, so `--tracing`/`--screenshot` give
    each test its own files, as with a fresh context.
    """
    if _fresh_context_reason(request):
        yield new_context()
        return
    shared: ReusedContext = request.getfixturevalue("gate_reused_context")
    context = shared.acquire()
    tracing = pytestconfig.getoption("tracing", None) in ("on", "retain-on-failure")
    if tracing:
        context.tracing.start(title=request.node.nodeid, screenshots=True, snapshots=True, sources=True)
    yield context
    # pytest-playwright's own hand-over at context close: the trace file and the screenshots, taken
    # before the reset wipes the page. Skipped when neither is asked for (it costs a round trip).
    artifacts = tracing or pytestconfig.getoption("screenshot", None) in ("on", "only-on-failure")
    shared.release(
        failed=request.node.stash.get(TEST_FAILED, True),
        before_reset=_artifacts_recorder.on_will_close_browser_context if artifacts else None,
    )


@pytest.fixture
def page(request: pytest.FixtureRequest, context: BrowserContext) -> Page:
    """pytest-playwright's `page`: the shared context's warmed page, or a new page of a fresh context."""
    if _fresh_context_reason(request):
        return context.new_page()
    shared: ReusedContext = request.getfixturevalue("gate_reused_context")
    return shared.page()
