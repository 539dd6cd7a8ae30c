"""The happy-path flow, written against bare Playwright: the floor the harness is compared with.

The same steps, locators and texts as `e2e/test_generate_flow.py::
test_progress_appears_in_order_while_running_then_editor_shows_draft` (with `e2e/conftest.py`'s
`new_draft`), which the harness side of the benchmark runs unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import expect

from bench.stack import Stack
from e2e.test_generate_flow import PHASES
from harness.contract import DRAFTS_API

TITLE = "Spring launch: what's new"
BODY = "Three things changed this spring."


def run_flow(stack: Stack, before_close: Callable[[], None] | None = None) -> dict[str, float]:
    """One flow in a fresh context; returns seconds per phase, named like the harness's fixtures where
    they match: `context`, `page`, `new_draft` (open and fill), `flow` (the test body), `close`.

    `before_close` runs, untimed, with the flow done and its page still open.
    """
    marks = [time.perf_counter()]
    context = stack.browser.new_context(base_url=stack.frontend_url)
    marks.append(time.perf_counter())
    page = context.new_page()
    marks.append(time.perf_counter())
    page.goto(DRAFTS_API.new_draft_page.fill(campaign_id=DRAFTS_API.campaign_id))
    page.get_by_label("Topic").fill("Spring launch")
    page.get_by_label("Audience").fill("Existing customers")
    marks.append(time.perf_counter())

    page.get_by_role("button", name="Generate").click()
    run = stack.scripted.next_run()
    status = page.get_by_role("status")
    for message in PHASES:
        run.progress(message)
        expect(status).to_have_text(message)
    if run.finished:
        raise AssertionError("the generation ended before the test let it succeed")
    run.succeed(title=TITLE, body=BODY)
    expect(page).to_have_url(DRAFTS_API.editor_url_pattern())
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_label("Body")).to_have_value(BODY)
    marks.append(time.perf_counter())

    if before_close is not None:
        before_close()
        marks[-1] = time.perf_counter()  # so that the close phase starts after it
    context.close()
    marks.append(time.perf_counter())
    names = ("context", "page", "new_draft", "flow", "close")
    return {name: end - start for name, start, end in zip(names, marks[:-1], marks[1:], strict=True)}
