"""Shared pieces of the browser scenarios; the machinery itself is the `harness` plugin."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from harness.pages import NewDraftPage


@pytest.fixture
def new_draft(gate_page: Page) -> NewDraftPage:
    """The new-draft page, open and filled with valid inputs."""
    return NewDraftPage(gate_page).open().fill(topic="Spring launch", audience="Existing customers")
