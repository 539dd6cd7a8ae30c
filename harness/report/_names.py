"""The file names the report reads and writes (stdlib only: the plugin imports this in every session)."""

from typing import Final

STEPS_FILE: Final = "steps.json"
PAGE_TEXT_FILE: Final = "page-text.json"
DIAGNOSIS_FILE: Final = "diagnosis.txt"
EVIDENCE_FILE: Final = "evidence.json"
TIMELINE_FILE: Final = "timeline.html"
REPORT_FILE: Final = "report.html"
MUTANTS_FILE: Final = "mutants.json"
# <output>/sse-gate-results.<worker>.jsonl: files, not a folder, so that the output folder keeps one
# folder per failed test and nothing else.
RESULTS_PREFIX: Final = "sse-gate-results"
