"""What a person looks at after a run: the SSE timeline of a failed test, SSE in the trace, the run report.

Everything here is built from written data (an evidence folder: `evidence.json`, `diagnosis.txt`,
`steps.json`, `page-text.json`; a run's results files), so it works the same after the run, on a
downloaded artifact, and over several shards: `python -m harness.report merge DIR... -o report.html`.

Names are imported on first use (PEP 562 `__getattr__`), like `harness`'s: the plugin records each
test's outcome in every session, which must not pull in Playwright or the evidence model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # file names (stdlib only)
    "MUTANTS_FILE": "harness.report._names",
    "PAGE_TEXT_FILE": "harness.report._names",
    "REPORT_FILE": "harness.report._names",
    "RESULTS_PREFIX": "harness.report._names",
    "STEPS_FILE": "harness.report._names",
    "TIMELINE_FILE": "harness.report._names",
    # the run report (stdlib only)
    "ResultEntry": "harness.report._run_report",
    "load_results": "harness.report._run_report",
    "markdown_summary": "harness.report._run_report",
    "record_result": "harness.report._run_report",
    "write_run_report": "harness.report._run_report",
    # the timeline
    "Row": "harness.report._timeline",
    "Timeline": "harness.report._timeline",
    "build_timeline": "harness.report._timeline",
    "timeline_for": "harness.report._timeline",
    "timeline_for_evidence": "harness.report._timeline",
    "render_timeline": "harness.report._timeline_html",
    "write_timeline": "harness.report._timeline_html",
    # its side files
    "read_page_text": "harness.report._records",
    "read_steps": "harness.report._records",
    "write_page_text": "harness.report._records",
    "write_steps": "harness.report._records",
    # Playwright's trace
    "SSE_GROUP": "harness.report._trace",
    "TraceGroups": "harness.report._trace",
    "trace_group_names": "harness.report._trace",
    # the production bug as a failing run (README screenshot, tests)
    "PRODUCTION_BUG_SCENARIO": "harness.report._demo",
    "run_production_bug": "harness.report._demo",
}

# Spelled out (not sorted(_EXPORTS)) so that linters and type checkers read it; tests/test_report.py keeps both equal.
__all__ = [
    "MUTANTS_FILE",
    "PAGE_TEXT_FILE",
    "PRODUCTION_BUG_SCENARIO",
    "REPORT_FILE",
    "RESULTS_PREFIX",
    "ResultEntry",
    "Row",
    "SSE_GROUP",
    "STEPS_FILE",
    "TIMELINE_FILE",
    "Timeline",
    "TraceGroups",
    "build_timeline",
    "load_results",
    "markdown_summary",
    "read_page_text",
    "read_steps",
    "record_result",
    "render_timeline",
    "run_production_bug",
    "timeline_for",
    "timeline_for_evidence",
    "trace_group_names",
    "write_page_text",
    "write_run_report",
    "write_steps",
    "write_timeline",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from harness.report._demo import PRODUCTION_BUG_SCENARIO, run_production_bug
    from harness.report._names import (
        MUTANTS_FILE,
        PAGE_TEXT_FILE,
        REPORT_FILE,
        RESULTS_PREFIX,
        STEPS_FILE,
        TIMELINE_FILE,
    )
    from harness.report._records import read_page_text, read_steps, write_page_text, write_steps
    from harness.report._run_report import (
        ResultEntry,
        load_results,
        markdown_summary,
        record_result,
        write_run_report,
    )
    from harness.report._timeline import Row, Timeline, build_timeline, timeline_for, timeline_for_evidence
    from harness.report._timeline_html import render_timeline, write_timeline
    from harness.report._trace import SSE_GROUP, TraceGroups, trace_group_names
