"""One browser test's report recording: page text and scripted steps as they happen, the timeline on failure.

Imported by `harness.plugin._report` only once a test sets up `gate_evidence` (then Playwright and
the evidence model are loaded anyway). Reads only what the collector wrote (`evidence.json`,
`diagnosis.txt`), plus what it records itself:
- `page-text.json`: the page's status/alert text at each change (`harness.recording.PageTextRecorder`,
  installed right after `gate_evidence` is set up, before the test's page loads);
- `steps.json`: the scripted steps with their times (`ScriptedGenerator.history()`).
With `--tracing on|retain-on-failure`, steps and page text also go into Playwright's trace as groups.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.sync_api import BrowserContext

from harness.recording import EvidenceCollector, PageText, PageTextRecorder
from harness.report import (
    SSE_GROUP,
    TraceGroups,
    timeline_for_evidence,
    write_page_text,
    write_steps,
    write_timeline,
)
from harness.report._names import EVIDENCE_FILE
from harness.report._records import read_diagnosis
from harness.scripting import ScriptedGenerator, StepRecord

DIAGNOSIS_PROPERTY: Final = "sse_gate_diagnosis"
TIMELINE_PROPERTY: Final = "sse_gate_timeline"
_TRACE_LANES: Final = ("connection", "server sent", "page EventSource")


class TestRecording:
    """What the report records for one browser test (created when its `gate_evidence` is set up)."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self, collector: EvidenceCollector, tracing: bool, recorders: MutableMapping[Any, PageTextRecorder]
    ) -> None:
        """`recorders`: the page-text recorder of each browser context of the session, so that a
        context reused across tests (where a second install would fail) keeps its one recorder."""
        context = collector.page.context
        self.collector = collector
        self.trace = TraceGroups(context) if tracing else None
        self.generator: ScriptedGenerator | None = None
        self._undo: list[Callable[[], None]] = []
        known = recorders.get(context)
        if known is not None:
            known.clear()
            self.text = known
        else:
            self.text = recorders[context] = PageTextRecorder().install(context)

            def forget(closed: BrowserContext) -> None:
                recorders.pop(closed, None)

            context.once("close", forget)
        self.text.on_change(self._on_text)

    def attach(self, generator: Any) -> None:
        """Observe the scripted generator the test uses, if it uses one."""
        if isinstance(generator, ScriptedGenerator):
            self.generator = generator
            self._undo.append(generator.observe(self._on_step))

    def detach(self) -> None:
        for undo in self._undo:
            undo()
        self._undo.clear()
        if self.trace is not None:
            self.trace.close_all()

    def _on_text(self, text: PageText) -> None:
        if self.trace is not None:
            alert = f", alert {text.alert!r}" if text.alert else ""
            self.trace.mark(f"page shows: status {text.status!r}{alert}")

    def _on_step(self, record: StepRecord) -> None:
        if self.trace is None:
            return
        if record.t_end is None:
            self.trace.begin(f"scripted run #{record.run}: {record.step}")
        elif record.step.startswith("generation started"):
            self.trace.mark(f"scripted run #{record.run}: {record.step}")
        else:
            self.trace.end()

    def after_call(self, item: pytest.Item, report: pytest.TestReport, output_root: Path) -> tuple[str, str]:
        """The call phase's report: SSE into the trace; on failure, the side files and the timeline.

        Returns (the test's folder relative to `output_root`, the diagnosis line), ("", "") if none."""
        if self.trace is not None:
            self._sse_into_trace()
        out = self.collector.output_dir
        if not (report.failed and (out / EVIDENCE_FILE).is_file()):
            return "", ""
        if self.generator is not None:
            write_steps(out, self.generator.history())
        write_page_text(out, self.text.changes())
        timeline = write_timeline(out, trace="trace.zip" if self.trace is not None else None)
        _, line, _ = read_diagnosis(out)
        # On the item too: JUnit XML writes the properties of the teardown report, which copies the item's.
        properties = [
            (DIAGNOSIS_PROPERTY, line),
            (TIMELINE_PROPERTY, os.path.relpath(timeline, item.config.invocation_params.dir)),
        ]
        item.user_properties.extend(properties)
        report.user_properties.extend(properties)
        report.sections.append(("sse-gate timeline", f"open {timeline}"))
        _pytest_html_extras(item, report, timeline, line)
        return os.path.relpath(out, output_root), line

    def _sse_into_trace(self) -> None:
        """One group holding the test's SSE records, each named with its own time (see harness.report._trace)."""
        assert self.trace is not None
        steps = self.generator.history() if self.generator is not None else []
        timeline = timeline_for_evidence(self.collector.evidence(), steps, self.text.changes())
        self.trace.begin(SSE_GROUP)
        for row in timeline.rows:
            if row.lane in _TRACE_LANES:
                marks = "".join(f" [{mark}]" for mark in row.marks)
                self.trace.mark(f"+{row.t - timeline.t0:.3f} s {row.lane}: {row.text}{marks}")
        self.trace.end()


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
