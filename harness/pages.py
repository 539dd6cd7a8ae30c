"""The pages' accessible contract, as page objects: what the gate relies on, and nothing more.

Routes and form fields come from the app's contract (`harness.contract.AppContract`), so the same
page objects drive the stub page for any app, and a real frontend that keeps this contract:
- the new-draft page (`contract.new_draft_page`), with one input labelled per form field
  (`contract.form`) and a button named "Generate";
- an element with `role="status"` holding the current progress text; `role="alert"` holding errors;
- the editor (`contract.editor_page`), whose level-1 heading shows the draft title, "Body" the body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from playwright.sync_api import Locator, Page

from harness.contract import DRAFTS_API, AppContract

# The default contract's (drafts_api's) routes, for callers that gate only our app; scenarios read
# them from `gate_contract` instead.
EDITOR_URL: Final[re.Pattern[str]] = DRAFTS_API.editor_url_pattern()
DEFAULT_CAMPAIGN: Final = DRAFTS_API.campaign_id


def new_draft_path(campaign_id: str = DEFAULT_CAMPAIGN) -> str:
    return DRAFTS_API.new_draft_page.fill(campaign_id=campaign_id)


def editor_path(draft_id: str) -> str:
    return DRAFTS_API.editor_path(draft_id)


class NewDraftPage:
    def __init__(self, page: Page, contract: AppContract = DRAFTS_API) -> None:
        self.page = page
        self.contract = contract
        self.generate_button: Locator = page.get_by_role("button", name="Generate")
        self.status: Locator = page.get_by_role("status")
        self.alert: Locator = page.get_by_role("alert")

    def path(self, campaign_id: str | None = None) -> str:
        return self.contract.new_draft_page.fill(campaign_id=campaign_id or self.contract.campaign_id)

    def open(self, campaign_id: str | None = None, *, origin: str = "") -> NewDraftPage:
        self.page.goto(origin + self.path(campaign_id))
        return self

    def fill(self, **values: str | Sequence[str]) -> NewDraftPage:
        """Type every form field: the given values by field name, the contract's samples for the rest.

        A `lines` field takes its lines as a list or joined by newlines (`fill(key_points=["a", "b"])`)."""
        unknown = set(values) - {f.name for f in self.contract.form}
        if unknown:
            raise KeyError(f"no form field {sorted(unknown)} in {self.contract.name}; fields: {self.field_names()}")
        for form_field in self.contract.form:
            given = values.get(form_field.name, form_field.sample)
            value = given if isinstance(given, str) else "\n".join(given)
            control = self.page.get_by_label(form_field.label, exact=True)
            if form_field.kind == "select":
                if value:
                    control.select_option(value)
            else:
                control.fill(value)
        return self

    def fill_other(self) -> dict[str, str]:
        """Type every field's second valid value (`FormField.other`); returns what was typed."""
        typed = {f.name: f.other or f.sample for f in self.contract.form}
        self.fill(**typed)
        return typed

    def field_names(self) -> list[str]:
        return [f.name for f in self.contract.form]

    def generate(self) -> NewDraftPage:
        self.generate_button.click()
        return self


class EditorPage:
    def __init__(self, page: Page, contract: AppContract = DRAFTS_API) -> None:
        self.page = page
        self.contract = contract
        self.heading: Locator = page.get_by_role("heading", level=1)
        self.body: Locator = page.get_by_label("Body")
        self.alert: Locator = page.get_by_role("alert")

    def draft_id(self) -> str:
        match = self.contract.editor_url_pattern().search(self.page.url)
        if match is None:
            raise AssertionError(f"not on the editor page ({self.contract.editor_page.template}): {self.page.url}")
        return match[1]
