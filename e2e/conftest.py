"""Shared pieces of the browser scenarios; the machinery itself is the `harness` plugin.

Every scenario reads the app's protocol from `gate_contract` (routes, form, events, messages,
timings), so the same scenarios gate drafts_api and any app with a contract (`--gate-contract`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from harness.contract import AppContract
from harness.pages import EditorPage, NewDraftPage

_SCENARIOS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test under e2e/ `scenario`: `make test`'s first pass runs `-m 'slow or not scenario'`,
    because the quick scenarios run in its mutant check as the control (a second run repeated them)."""
    for item in items:
        if item.path.is_relative_to(_SCENARIOS_DIR):
            item.add_marker(pytest.mark.scenario)


@pytest.fixture
def new_draft(gate_new_draft: NewDraftPage) -> NewDraftPage:
    """The new-draft page, open and filled with the contract's sample inputs."""
    return gate_new_draft


@pytest.fixture
def editor(gate_page: Page, gate_contract: AppContract) -> EditorPage:
    return EditorPage(gate_page, gate_contract)


@pytest.fixture
def editor_url(gate_contract: AppContract) -> re.Pattern[str]:
    """The editor route as a URL pattern for `expect(page).to_have_url(...)`."""
    return gate_contract.editor_url_pattern()
