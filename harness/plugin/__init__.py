"""The SSE progress gate as a pytest plugin (entry point `harness.plugin`, or `-p harness.plugin`).

Hooks only; the fixtures live in `harness.plugin._fixtures`, registered in `pytest_configure` so that they are
registered after pytest-playwright's and extend its `browser_type_launch_args`/`browser_context_args`; the
report header and summary in `harness.plugin._header`. Loaded in every session of the environment, the plugin
costs no subprocess, browser probe or server until a test requests a gate fixture.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Generator

import pytest

from harness.contract import ContractSpecError, load_contract
from harness.plugin import _browser as browser_fixtures
from harness.plugin import _fixtures as fixtures
from harness.plugin import _header as header
from harness.plugin._fixtures import (
    TEST_HEARTBEAT_POLLS,
    TEST_RECONNECT_TIMEOUT_MS,
    TEST_RETRY_MS,
    RedisOutage,
    StartGeneration,
)
from harness.plugin._marks import FRESH_CONTEXT_MARK, TEST_FAILED
from harness.plugin._options import GateOptions, add_options

__all__ = [
    "TEST_HEARTBEAT_POLLS",
    "TEST_RECONNECT_TIMEOUT_MS",
    "TEST_RETRY_MS",
    "GateOptions",
    "RedisOutage",
    "StartGeneration",
]

_FIXTURES_PLUGIN_NAME = "harness.plugin._fixtures"
_BROWSER_PLUGIN_NAME = "harness.plugin._browser"
_HEADER_PLUGIN_NAME = "harness.plugin._header"
_REPORT_PLUGIN_NAME = "harness.plugin._report"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


BROWSER_QUIRK_MARK = "browser_quirk"


def pytest_configure(config: pytest.Config) -> None:
    GateOptions.from_config(config)  # fail fast on contradictory options, before any test runs
    config.addinivalue_line(
        "markers",
        f"{BROWSER_QUIRK_MARK}(browser, reason): a known SSE quirk of that browser engine; the test is "
        "expected to fail there (xfail, not strict) and the report says why",
    )
    config.addinivalue_line(
        "markers",
        f"{FRESH_CONTEXT_MARK}: give this test a browser context and page of its own instead of the worker's "
        "shared, reset one (for tests that add init scripts, bindings, headers, geolocation... to the context)",
    )
    if not config.pluginmanager.has_plugin(_FIXTURES_PLUGIN_NAME):
        config.pluginmanager.register(fixtures, _FIXTURES_PLUGIN_NAME)
    if not config.pluginmanager.has_plugin(_BROWSER_PLUGIN_NAME):
        config.pluginmanager.register(browser_fixtures, _BROWSER_PLUGIN_NAME)
    if not config.pluginmanager.has_plugin(_HEADER_PLUGIN_NAME):
        config.pluginmanager.register(header, _HEADER_PLUGIN_NAME)
    if not config.pluginmanager.has_plugin(_REPORT_PLUGIN_NAME):
        from harness.plugin import _report  # the timeline and the run report (hooks of their own)

        config.pluginmanager.register(_report, _REPORT_PLUGIN_NAME)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The contract's `known_findings` become strict expected failures, with the reason."""
    spec = GateOptions.from_config(config).contract
    if not spec:
        return
    try:
        contract = load_contract(spec)
    except ContractSpecError as exc:
        raise pytest.UsageError(str(exc)) from exc
    for item in items:
        name = getattr(item, "originalname", None) or item.name
        reason = contract.known_findings.get(name)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=f"known finding of {contract.name}: {reason}", strict=True))


def pytest_sessionstart(session: pytest.Session) -> None:
    # pytest-playwright empties --output at the first test of every process; under pytest-xdist a
    # worker that starts late could delete the evidence another has just written. The gate empties
    # it once, here in the controller (or the only process), and turns that fixture off.
    if hasattr(session.config, "workerinput"):
        return
    output = session.config.getoption("output", None)
    if output:
        shutil.rmtree(session.config.invocation_params.dir / output, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # pytest-playwright parametrizes browser tests by `browser_name`; a quirk applies to one of them.
    callspec = getattr(item, "callspec", None)
    browser_name = callspec.params.get("browser_name") if callspec is not None else None
    for mark in item.iter_markers(BROWSER_QUIRK_MARK):
        browser, reason = mark.args[0], mark.kwargs.get("reason") or (mark.args[1] if len(mark.args) > 1 else "")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{BROWSER_QUIRK_MARK}({browser!r}) needs a reason")
        if browser == browser_name:
            item.add_marker(pytest.mark.xfail(reason=f"{browser} quirk: {reason}", strict=False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when in ("setup", "call"):
        # Read by the shared context's teardown: a failed test's context is recycled, not reset.
        item.stash[TEST_FAILED] = item.stash.get(TEST_FAILED, False) or report.failed
    if "harness.recording" not in sys.modules:
        return report  # no test of this session used `gate_evidence` (which imports it): no collector
    from harness.recording import EvidenceCollector

    collector = item.stash.get(EvidenceCollector.STASH_KEY, None)
    if collector is not None and report.when == "call" and report.failed:
        try:
            collector.explain_failure(report, call)
        except Exception as exc:  # the evidence must never hide the test's own failure
            report.sections.append(("sse-gate evidence", f"could not collect the evidence: {exc!r}"))
    return report
