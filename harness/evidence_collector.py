"""Collects one browser test's evidence and turns a failure into a one-line diagnosis (wired below)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.sync_api import Page

from harness.wire_recorder import WireLog


class EvidenceCollector:
    STASH_KEY: ClassVar[pytest.StashKey["EvidenceCollector"]] = pytest.StashKey()

    def __init__(self, test_id: str, page: Page, wire_log: WireLog, output_dir: Path) -> None:
        self.test_id = test_id
        self.page = page
        self.wire_log = wire_log
        self.output_dir = output_dir

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def explain_failure(self, report: pytest.TestReport, call: pytest.CallInfo[Any]) -> None:
        pass
