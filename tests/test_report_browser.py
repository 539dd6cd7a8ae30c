"""The report hooks in a real run (pytester in a subprocess, the plugin as installed, two xdist workers):
a timeline for every failing browser test, none for a pass, the run report over both workers, JUnit
properties, the SSE groups in Playwright's trace; then a browser opens a timeline and reads it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from harness.report import PRODUCTION_BUG_SCENARIO, SSE_GROUP, read_page_text, read_steps, trace_group_names

REPO_ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_CLIENT = REPO_ROOT / "e2e" / "mutants" / "clients" / "original_onmessage.js"
SIZE_BOUND = 200_000

MORE_TESTS = """

def test_first_progress_never_shows(gate_page, gate_scripted):
    new_draft = NewDraftPage(gate_page).open().fill()
    new_draft.generate()
    gate_scripted.next_run().progress("Analyzing...")
    expect(new_draft.status).to_have_text("Analyzing...", timeout=1500)


def test_page_opens(gate_page):
    expect(NewDraftPage(gate_page).open().generate_button).to_be_enabled()


def test_not_a_browser_test():
    assert 1 + 1 == 3, "arithmetic is broken"
"""


# A whole pytest session with two xdist workers and their browsers, then a browser here: ~45 s on a
# quiet 2-core machine, over 100 s on a busy one; the suite's 120 s default is too close.
@pytest.mark.timeout(400)
def test_a_failing_run_gets_timelines_a_run_report_junit_properties_html_extras_and_trace_groups(
    pytester: pytest.Pytester, page: Page
) -> None:
    """Three failing tests (two in a browser) and a passing one, with the production client, on two
    xdist workers, as a user runs them (pytester: the plugin from its entry point); each check below
    names what it catches."""
    pytester.makepyfile(test_flows=PRODUCTION_BUG_SCENARIO + MORE_TESTS)
    output = pytester.path / "results"
    result = pytester.runpytest_subprocess(
        "-n", "2", f"--sse-client={ORIGINAL_CLIENT}", f"--output={output}", "--tracing=retain-on-failure",
        f"--junitxml={pytester.path / 'junit.xml'}", f"--html={pytester.path / 'html' / 'index.html'}",
        timeout=300,
    )  # fmt: skip
    result.assert_outcomes(failed=3, passed=1)
    failed_run = (output, result.stdout.str())
    check_every_failing_browser_test_gets_a_small_timeline_and_a_pass_gets_none(failed_run)
    check_the_run_report_covers_both_workers_and_links_each_failure(failed_run)
    check_junit_carries_the_diagnosis_line_as_a_property(failed_run)
    check_pytest_html_gets_the_timeline_link_and_the_diagnosis_line(failed_run)
    check_scripted_steps_page_text_and_sse_are_groups_in_playwrights_trace(failed_run)
    check_a_browser_shows_the_production_bug_in_the_timeline(failed_run, page)


FailedRun = tuple[Path, str]


def _folders(output: Path) -> dict[str, Path]:
    return {path.name: path for path in output.iterdir() if path.is_dir()}


def check_every_failing_browser_test_gets_a_small_timeline_and_a_pass_gets_none(failed_run: FailedRun) -> None:
    """Fails if: a failing browser test has no timeline (or one over the bound), or a passing one
    leaves a folder behind."""
    output, _ = failed_run
    folders = _folders(output)
    with_timeline = sorted(name for name, path in folders.items() if (path / "timeline.html").is_file())
    assert with_timeline == [
        "test-flows-py-test-first-progress-never-shows-chromium",
        "test-flows-py-test-production-bug-chromium",
    ], sorted(folders)
    for name in with_timeline:
        assert (folders[name] / "timeline.html").stat().st_size < SIZE_BOUND
        assert {"steps.json", "page-text.json", "trace.zip"} <= {p.name for p in folders[name].iterdir()}
    steps = [s.step for s in read_steps(folders["test-flows-py-test-production-bug-chromium"])]
    assert steps == [
        "generation started (next_run)",
        "progress 'Analyzing the campaign brief...'",
        "progress 'Outlining 3 key points...'",
        "progress 'Writing the draft...'",
        "succeed (title 'Spring launch')",
    ], steps
    shown = [(t.status, t.alert) for t in read_page_text(folders["test-flows-py-test-production-bug-chromium"])]
    assert ("Starting...", "") in shown and any(alert == "Connection lost. Please try again." for _, alert in shown)


def check_the_run_report_covers_both_workers_and_links_each_failure(failed_run: FailedRun) -> None:
    """Fails if: a worker's results are missing, a failure lacks its first line or its links."""
    output, stdout = failed_run
    assert f"sse-gate: run report: {output / 'report.html'}" in stdout
    assert len(list(output.glob("sse-gate-results.gw*.jsonl"))) == 2
    page = (output / "report.html").read_text()
    assert "3 failed" in page and "1 passed" in page
    assert "named-event mismatch" in page and "arithmetic is broken" in page
    for folder in (
        "test-flows-py-test-production-bug-chromium",
        "test-flows-py-test-first-progress-never-shows-chromium",
    ):
        assert f'href="{folder}/timeline.html"' in page and f'href="{folder}/trace.zip"' in page


def check_junit_carries_the_diagnosis_line_as_a_property(failed_run: FailedRun) -> None:
    """Fails if: CI annotators reading JUnit XML do not get the diagnosis line and the timeline path."""
    output, _ = failed_run
    root = ElementTree.parse(output.parent / "junit.xml").getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "test_production_bug[chromium]")
    properties = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
    assert "named-event mismatch" in properties["sse_gate_diagnosis"]
    assert properties["sse_gate_timeline"].endswith("test-flows-py-test-production-bug-chromium/timeline.html")


def check_pytest_html_gets_the_timeline_link_and_the_diagnosis_line(failed_run: FailedRun) -> None:
    """Fails if: a user's pytest-html report does not link the timeline or show the diagnosis line."""
    output, _ = failed_run
    page = (output.parent / "html" / "index.html").read_text()
    assert "../results/test-flows-py-test-production-bug-chromium/timeline.html" in page
    assert "SSE timeline" in page and "named-event mismatch" in page


def check_scripted_steps_page_text_and_sse_are_groups_in_playwrights_trace(failed_run: FailedRun) -> None:
    """Fails if: `playwright show-trace` would not show the steps, the page text or the SSE records."""
    output, _ = failed_run
    names = trace_group_names(output / "test-flows-py-test-production-bug-chromium" / "trace.zip")
    assert "scripted run #1: progress 'Analyzing the campaign brief...'" in names
    assert "page shows: status 'Starting...'" in names
    assert any("Connection lost" in name for name in names if name.startswith("page shows"))
    after = names[names.index(SSE_GROUP) + 1 :]
    assert any("server sent: #" in n and "event: progress" in n for n in after)
    assert any("page EventSource: progress -> 0 listener(s) [reached no listener]" in n for n in after)


def check_a_browser_shows_the_production_bug_in_the_timeline(failed_run: FailedRun, page: Page) -> None:
    """Fails if: the page a person opens does not lead with the diagnosis, hide the undelivered
    `progress` events, or miss "Connection lost"."""
    output, _ = failed_run
    page.goto((output / "test-flows-py-test-production-bug-chromium" / "timeline.html").as_uri())
    expect(page.get_by_role("heading", level=1)).to_contain_text("named-event mismatch")
    dispatched = page.locator("tr[data-lane='page EventSource']").filter(has_text="progress ->")
    expect(dispatched).to_have_count(3)
    for index in range(3):
        expect(dispatched.nth(index).locator(".mark")).to_have_text("reached no listener")
    sent = page.locator("tr[data-lane='server sent']").filter(has_text="event: progress")
    expect(sent).to_have_count(3)
    expect(
        page.locator("tr[data-lane='page shows']").filter(has_text="Connection lost. Please try again.")
    ).to_have_count(1)
    expect(page.locator("ul.m")).to_contain_text("3 `progress` event(s) dispatched to no page listener")


@pytest.mark.gate_fresh_context  # it installs a recorder of its own: not on the worker's shared context
def test_a_context_reused_by_the_next_test_keeps_one_page_text_recorder(page: Page, tmp_path: Path) -> None:
    """Fails if: a second test on the same browser context installs the recorder again (Playwright
    refuses a second binding of one name) or sees the first test's page text."""
    from harness.plugin._report_recording import TestRecording  # tests the internals of the hook
    from harness.recording import EvidenceCollector, PageTextRecorder, WireLog

    recorders: dict[object, PageTextRecorder] = {}
    first = TestRecording(EvidenceCollector("t::1", page, WireLog(), tmp_path), False, recorders)
    page.set_content('<p role="status">one</p>')
    page.goto("about:blank")
    page.set_content('<p role="status">one</p>')
    second = TestRecording(EvidenceCollector("t::2", page, WireLog(), tmp_path), False, recorders)
    assert second.text is first.text and len(recorders) == 1
    assert second.text.changes() == []
    page.evaluate("document.querySelector('[role=status]').textContent = 'two'")
    expect(page.get_by_role("status")).to_have_text("two")
    page.evaluate("1")  # one more round trip: the binding's call has been delivered
    assert "two" in [text.status for text in second.text.changes()]
