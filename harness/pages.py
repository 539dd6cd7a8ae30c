"""The pages' accessible contract, as page objects: what the gate relies on, and nothing more.

A real frontend can be gated the same way if it keeps this contract (see README, "Page contract"):
- the new-draft page at `/dashboard/campaigns/{campaign_id}/drafts/new`, with a button named
  "Generate", inputs labelled "Topic" and "Audience" (and optionally "Tone", "Length", "Key points");
- an element with `role="status"` holding the current progress text; `role="alert"` holding errors;
- the editor at `/dashboard/drafts/{draft_id}/edit`, whose level-1 heading shows the draft title.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from playwright.sync_api import Locator, Page

EDITOR_URL: Final = re.compile(
    r"/dashboard/drafts/([^/?#]+)/edit$"
)  # no named group: Playwright runs it as a JS RegExp
DEFAULT_CAMPAIGN: Final = "spring-launch"


def new_draft_path(campaign_id: str) -> str:
    return f"/dashboard/campaigns/{campaign_id}/drafts/new"


def editor_path(draft_id: str) -> str:
    return f"/dashboard/drafts/{draft_id}/edit"


class NewDraftPage:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.generate_button: Locator = page.get_by_role("button", name="Generate")
        self.status: Locator = page.get_by_role("status")
        self.alert: Locator = page.get_by_role("alert")

    def open(self, campaign_id: str = DEFAULT_CAMPAIGN) -> NewDraftPage:
        self.page.goto(new_draft_path(campaign_id))
        return self

    def fill(
        self,
        topic: str = "Spring launch",
        audience: str = "Existing customers",
        *,
        tone: str | None = None,
        length: str | None = None,
        key_points: Sequence[str] = (),
    ) -> NewDraftPage:
        self.page.get_by_label("Topic").fill(topic)
        self.page.get_by_label("Audience").fill(audience)
        if tone is not None:
            self.page.get_by_label("Tone").select_option(tone)
        if length is not None:
            self.page.get_by_label("Length").select_option(length)
        if key_points:
            self.page.get_by_label("Key points").fill("\n".join(key_points))
        return self

    def generate(self) -> NewDraftPage:
        self.generate_button.click()
        return self


class EditorPage:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.heading: Locator = page.get_by_role("heading", level=1)
        self.body: Locator = page.get_by_label("Body")
        self.alert: Locator = page.get_by_role("alert")

    def draft_id(self) -> str:
        match = EDITOR_URL.search(self.page.url)
        if match is None:
            raise AssertionError(f"not on the editor page: {self.page.url}")
        return match[1]
