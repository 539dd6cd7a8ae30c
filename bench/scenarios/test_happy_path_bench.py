"""The e2e happy path, unchanged, repeated `--bench-iterations` times for the benchmark (not part of the gate)."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from e2e.test_generate_flow import (
    test_progress_appears_in_order_while_running_then_editor_shows_draft as happy_path,
)
from harness.pages import EditorPage, NewDraftPage
from harness.scripting import Scripted


def test_happy_path(
    iteration: int,
    new_draft: NewDraftPage,
    gate_scripted: Scripted,
    gate_page: Page,
    editor: EditorPage,
    editor_url: re.Pattern[str],
) -> None:
    happy_path(new_draft, gate_scripted, gate_page, editor, editor_url)
