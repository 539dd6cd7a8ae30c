"""The report hooks: each test's outcome into the run's results, the run report at the end, and for
browser tests the page-text and step recording and the SSE timeline (`harness.plugin._report_recording`).

Kept apart from the evidence collector's hook: its `makereport` wrapper runs after the collector's
(an outer wrapper) and reads only what that wrote. Light on import (stdlib and the report's stdlib
modules): it is loaded in every session; the browser-side recording is imported when a test first
sets up `gate_evidence`.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.report._names import REPORT_FILE, RESULTS_PREFIX
from harness.report._run_report import ResultEntry, record_result, write_run_report

if TYPE_CHECKING:
    from harness.plugin._report_recording import TestRecording
    from harness.recording import PageTextRecorder

_RECORDING: pytest.StashKey[TestRecording] = pytest.StashKey()
# Per session, by browser context (weak: a closed context's recorder goes with it).
# The page-text recorder of each open browser context (a context shared by a worker's tests keeps its
# one recorder: Playwright refuses a second binding of one name); an entry is dropped when its
# context closes.
_TEXT_RECORDERS: pytest.StashKey[dict[Any, PageTextRecorder]] = pytest.StashKey()
_REPORT_PATH: pytest.StashKey[Path] = pytest.StashKey()


def _tracing_on(config: pytest.Config) -> bool:
    return str(config.getoption("tracing", "off") or "off") in ("on", "retain-on-failure")


def _output_root(config: pytest.Config) -> Path:
    return Path(config.invocation_params.dir) / str(config.getoption("output", None) or "test-results")


def _worker(config: pytest.Config) -> str:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    # Right after the collector exists, before any fixture or test navigates the page: the page-text
    # recorder is an init script, which only documents loaded later get.
    result = yield
    if fixturedef.argname == "gate_evidence":
        from harness.plugin._report_recording import TestRecording
        from harness.recording import EvidenceCollector

        if isinstance(result, EvidenceCollector):
            recorders = request.config.stash.setdefault(_TEXT_RECORDERS, {})
            request.node.stash[_RECORDING] = TestRecording(result, _tracing_on(request.config), recorders)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    recording = item.stash.get(_RECORDING, None)
    if recording is not None:
        recording.attach(getattr(item, "funcargs", {}).get("gate_scripted_generator"))
    try:
        return (yield)
    finally:
        if recording is not None:
            recording.detach()


# tryfirst on a wrapper makes it the outer one: its code after `yield` runs after the collector's
# hook has written the evidence folder and led the report with the diagnosis line.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    recording = item.stash.get(_RECORDING, None)
    folder, first_line = "", ""
    if recording is not None and report.when == "call":
        try:
            folder, first_line = recording.after_call(item, report, _output_root(item.config))
        except Exception as exc:  # the timeline must never hide the test's own failure
            report.sections.append(("sse-gate timeline", f"could not write the timeline: {exc!r}"))
    _record(item, report, folder, first_line)
    return report


def _record(item: pytest.Item, report: pytest.TestReport, folder: str, first_line: str) -> None:
    """One results line per outcome: the call's, or a setup/teardown that failed or skipped."""
    if report.when != "call" and not (report.failed or report.skipped):
        return
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
    else:
        outcome = report.outcome
    if not first_line and report.failed:
        first_line = _first_line(report)
    entry = ResultEntry(
        test_id=item.nodeid,
        outcome=outcome,
        when=report.when,
        duration=report.duration,
        first_line=first_line,
        folder=folder,
        worker=_worker(item.config),
        t=report.start,
    )
    record_result(_output_root(item.config), entry)


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or report.longreprtext)
    return next((line.strip() for line in message.splitlines() if line.strip()), "")[:500]


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Once, in the controller (or the only process), after every worker has written its results.
    if hasattr(session.config, "workerinput"):
        return
    root = _output_root(session.config)
    if any(root.glob(f"{RESULTS_PREFIX}.*.jsonl")):
        session.config.stash[_REPORT_PATH] = write_run_report([root], root / REPORT_FILE)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    path = config.stash.get(_REPORT_PATH, None)
    if path is not None:
        terminalreporter.write_line(f"sse-gate: run report: {path}")
