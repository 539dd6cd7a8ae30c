"""What a person looks at after a run: the SSE timeline of a failed test, SSE in the trace, the run report.

Everything here is built from written data (an evidence folder: `evidence.json`, `diagnosis.txt`,
`steps.json`, `page-text.json`; a results folder), so it works the same after the run, on a
downloaded artifact, and over several shards: `python -m harness.report merge DIR... -o report.html`.
"""

from harness.report._records import (
    PAGE_TEXT_FILE,
    STEPS_FILE,
    TIMELINE_FILE,
    read_page_text,
    read_steps,
    write_page_text,
    write_steps,
)
from harness.report._run_report import (
    MUTANTS_FILE,
    REPORT_FILE,
    RESULTS_PREFIX,
    ResultEntry,
    load_results,
    record_result,
    write_run_report,
)
from harness.report._timeline import Timeline, timeline_for, timeline_for_evidence, write_timeline
from harness.report._trace import SSE_GROUP, TraceGroups, trace_group_names

__all__ = [
    "MUTANTS_FILE",
    "PAGE_TEXT_FILE",
    "REPORT_FILE",
    "RESULTS_PREFIX",
    "SSE_GROUP",
    "STEPS_FILE",
    "TIMELINE_FILE",
    "ResultEntry",
    "Timeline",
    "TraceGroups",
    "load_results",
    "read_page_text",
    "read_steps",
    "record_result",
    "timeline_for",
    "timeline_for_evidence",
    "trace_group_names",
    "write_page_text",
    "write_run_report",
    "write_steps",
    "write_timeline",
]
