"""The side files the report hook writes next to the evidence: scripted steps and page text over time.

Kept apart from `evidence.json` (whose model belongs to `harness.evidence`) so that the timeline is
built from written data only: `steps.json` and `page-text.json`, both optional.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.recording import PageText
from harness.report._names import DIAGNOSIS_FILE, PAGE_TEXT_FILE, STEPS_FILE
from harness.scripting import StepRecord


def write_steps(directory: Path, steps: Iterable[StepRecord]) -> Path:
    path = directory / STEPS_FILE
    path.write_text(json.dumps({"steps": [asdict(s) for s in steps]}, indent=1) + "\n", encoding="utf-8")
    return path


def write_page_text(directory: Path, changes: Iterable[PageText]) -> Path:
    path = directory / PAGE_TEXT_FILE
    path.write_text(
        json.dumps({"changes": [asdict(c) for c in changes]}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


def _read_list(path: Path, key: str) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected an object with a list under {key!r}, got {str(data)[:200]!r}")
    return [row for row in rows if isinstance(row, dict)]


def read_steps(directory: Path) -> list[StepRecord]:
    fields = set(StepRecord.__dataclass_fields__)
    return [
        StepRecord(**{k: v for k, v in row.items() if k in fields})
        for row in _read_list(directory / STEPS_FILE, "steps")
    ]


def read_page_text(directory: Path) -> list[PageText]:
    fields = set(PageText.__dataclass_fields__)
    return [
        PageText(**{k: v for k, v in row.items() if k in fields})
        for row in _read_list(directory / PAGE_TEXT_FILE, "changes")
    ]


def read_diagnosis(directory: Path) -> tuple[str, str, list[str]]:
    """(rule, line, details) from `diagnosis.txt` (`[rule] line`, then `  - detail` lines)."""
    path = directory / DIAGNOSIS_FILE
    if not path.is_file():
        return "", "", []
    lines = path.read_text(encoding="utf-8").splitlines()
    first = lines[0] if lines else ""
    rule, line = "", first
    if first.startswith("[") and "] " in first:
        rule, line = first[1:].split("] ", 1)
    details = [item.strip().removeprefix("- ") for item in lines[1:] if item.strip()]
    return rule, line, details
