"""The report hooks: page text and scripted steps while a test runs, the timeline when it fails, the run report.

Kept apart from the evidence collector's hook: this one runs after it (an outer wrapper) and reads
only what the collector wrote (`evidence.json`, `diagnosis.txt`), plus what it records itself:
- `page-text.json`: the page's status/alert text at each change (`harness.recording.PageTextRecorder`,
  installed right after `gate_evidence` is set up, before the test's page loads);
- `steps.json`: the scripted steps with their times (`ScriptedGenerator.history()`).
With `--tracing on|retain-on-failure`, steps and page text also go into Playwright's trace as groups.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from harness.recording import EvidenceCollector, PageText, PageTextRecorder
from harness.report import (
    ResultEntry,
    TraceGroups,
    record_result,
    timeline_for_evidence,
    write_page_text,
    write_run_report,
    write_steps,
    write_timeline,
)
from harness.report._records import EVIDENCE_FILE, read_diagnosis
from harness.report._run_report import REPORT_FILE, RESULTS_PREFIX
from harness.report._trace import SSE_GROUP
from harness.scripting import ScriptedGenerator, StepRecord

DIAGNOSIS_PROPERTY: Final = "sse_gate_diagnosis"
TIMELINE_PROPERTY: Final = "sse_gate_timeline"
_TRACE_LANES: Final = ("connection", "server sent", "page EventSource")


@dataclass
class _TestRecording:
    """What this module records for one browser test."""

    collector: EvidenceCollector
    text: PageTextRecorder
    trace: TraceGroups | None
    generator: ScriptedGenerator | None = None
    undo: list[Callable[[], None]] = field(default_factory=list)

    def on_text(self, text: PageText) -> None:
        if self.trace is not None:
            alert = f", alert {text.alert!r}" if text.alert else ""
            self.trace.mark(f"page shows: status {text.status!r}{alert}")

    def on_step(self, record: StepRecord) -> None:
        if self.trace is None:
            return
        if record.t_end is None:
            self.trace.begin(f"scripted run #{record.run}: {record.step}")
        elif record.step.startswith("generation started"):
            self.trace.mark(f"scripted run #{record.run}: {record.step}")
        else:
            self.trace.end()


_RECORDING: pytest.StashKey[_TestRecording] = pytest.StashKey()


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
    if fixturedef.argname == "gate_evidence" and isinstance(result, EvidenceCollector):
        context = result.page.context
        recording = _TestRecording(
            result, PageTextRecorder(), TraceGroups(context) if _tracing_on(request.config) else None
        )
        recording.text.install(context)
        recording.text.on_change(recording.on_text)
        request.node.stash[_RECORDING] = recording
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    recording = item.stash.get(_RECORDING, None)
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    generator = funcargs.get("gate_scripted_generator")
    if recording is not None and isinstance(generator, ScriptedGenerator):
        recording.generator = generator
        recording.undo.append(generator.observe(recording.on_step))
    try:
        return (yield)
    finally:
        if recording is not None:
            for undo in recording.undo:
                undo()
            recording.undo.clear()
            if recording.trace is not None:
                recording.trace.close_all()


# tryfirst on a wrapper makes it the outer one: its code after `yield` runs after the collector's
# hook has written the evidence folder and led the report with the diagnosis line.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    recording = item.stash.get(_RECORDING, None)
    folder = ""
    first_line = ""
    if recording is not None and report.when == "call":
        try:
            folder, first_line = _after_call(item, report, recording)
        except Exception as exc:  # the timeline must never hide the test's own failure
            report.sections.append(("sse-gate timeline", f"could not write the timeline: {exc!r}"))
    _record(item, report, folder, first_line)
    return report


def _after_call(item: pytest.Item, report: pytest.TestReport, recording: _TestRecording) -> tuple[str, str]:
    if recording.trace is not None:
        _sse_into_trace(recording)
    out = recording.collector.output_dir
    if not (report.failed and (out / EVIDENCE_FILE).is_file()):
        return "", ""
    if recording.generator is not None:
        write_steps(out, recording.generator.history())
    write_page_text(out, recording.text.changes())
    trace = "trace.zip" if _tracing_on(item.config) else None
    timeline = write_timeline(out, trace=trace)
    _, line, _ = read_diagnosis(out)
    # On the item: JUnit XML writes the properties of the teardown report, which copies the item's.
    properties = [
        (DIAGNOSIS_PROPERTY, line),
        (TIMELINE_PROPERTY, os.path.relpath(timeline, item.config.invocation_params.dir)),
    ]
    item.user_properties.extend(properties)
    report.user_properties.extend(properties)
    report.sections.append(("sse-gate timeline", f"open {timeline}"))
    _pytest_html_extras(item, report, timeline, line)
    return os.path.relpath(out, _output_root(item.config)), line


def _sse_into_trace(recording: _TestRecording) -> None:
    """One group holding the SSE records of the test, each named with its own time (see harness.report._trace)."""
    assert recording.trace is not None
    steps = recording.generator.history() if recording.generator is not None else []
    timeline = timeline_for_evidence(recording.collector.evidence(), steps, recording.text.changes())
    recording.trace.begin(SSE_GROUP)
    for row in timeline.rows:
        if row.lane in _TRACE_LANES:
            marks = "".join(f" [{mark}]" for mark in row.marks)
            recording.trace.mark(f"+{row.t - timeline.t0:.3f} s {row.lane}: {row.text}{marks}")
    recording.trace.end()


def _pytest_html_extras(item: pytest.Item, report: pytest.TestReport, timeline: Path, line: str) -> None:
    """With pytest-html active (`--html`): the timeline link and the diagnosis line as its extras."""
    if not item.config.pluginmanager.hasplugin("html"):
        return
    import pytest_html  # type: ignore[import-not-found,unused-ignore]

    html_path = item.config.getoption("htmlpath", None)
    base = Path(str(html_path)).resolve().parent if html_path else Path.cwd()
    extras = [*getattr(report, "extras", [])]
    extras.append(pytest_html.extras.url(os.path.relpath(timeline.resolve(), base), name="SSE timeline"))
    extras.append(pytest_html.extras.html(f"<p>[sse-gate] {html.escape(line, quote=True)}</p>"))
    report.extras = extras  # type: ignore[attr-defined]


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


_REPORT_PATH: pytest.StashKey[Path] = pytest.StashKey()


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
