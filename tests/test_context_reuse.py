"""The worker's shared browser context and page (harness.plugin._reuse), through pytester as a user runs it.

Test A leaves everything behind it can (a cookie, localStorage, sessionStorage, an EventSource held open
by a generation that never ends, recorder records); test B, on the same page, must see none of it.
The same pair against a reset that does nothing must fail on every one of those checks: that is the
proof that the checks can fail. A failing test on the shared context still gets its own trace and
screenshot; a marked test gets a context of its own.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

LEAK_TESTS = """
    from playwright.sync_api import expect
    from harness.pages import NewDraftPage, new_draft_path, DEFAULT_CAMPAIGN
    from harness.waiting import wait_until
    import pytest

    SEEN = {}

    def test_a_leaves_state_behind(gate_page, gate_scripted, gate_backend, gate_evidence, gate_reused_context):
        new_draft = NewDraftPage(gate_page).open().fill()
        gate_page.evaluate(
            "() => { localStorage.setItem('leak', 'a'); sessionStorage.setItem('leak', 'a');"
            " document.cookie = 'leak=a; path=/'; }"
        )
        new_draft.generate()
        run = gate_scripted.next_run()
        run.progress("Held open")
        expect(new_draft.status).to_have_text("Held open")
        assert gate_backend.live_streams() == 1
        assert gate_evidence.dispatched("progress"), gate_evidence.eventsource_summary()
        SEEN["page"], SEEN["contexts"] = gate_page, gate_reused_context.contexts_made
        # Ends with the generation held: the stream stays open unless the harness closes it.

    # No gate_backend here: its reset would end A's stream from the backend's side.
    def test_b_sees_none_of_it(page, gate_live_backend, gate_evidence, gate_reused_context):
        assert page is SEEN["page"] and gate_reused_context.contexts_made == SEEN["contexts"], "not reused"
        problems = []
        if page.context.cookies():
            problems.append(f"cookies leaked: {page.context.cookies()}")
        try:
            wait_until(gate_live_backend.live_streams, lambda n: n == 0, timeout=3.0, what="A's stream closed")
        except AssertionError as exc:
            problems.append(f"stream leaked: {exc}")
        summary = gate_evidence.eventsource_summary()
        if not summary.startswith("0 EventSource(s)"):
            problems.append(f"records leaked: {summary}")
        page.goto(new_draft_path(DEFAULT_CAMPAIGN))
        stored = page.evaluate("() => [localStorage.length, sessionStorage.length]")
        if stored != [0, 0]:
            problems.append(f"storage leaked: localStorage, sessionStorage lengths {stored}")
        assert not problems, " | ".join(problems)

    @pytest.mark.gate_fresh_context
    def test_c_marked_gets_its_own_context(gate_page, gate_reused_context):
        assert gate_page is not SEEN["page"]
        assert not gate_reused_context.owns(gate_page.context)
        assert gate_page.context.cookies() == []
"""

NO_RESET_CONFTEST = """
    import pytest
    from harness.plugin._reuse import ReusedContext  # internals: a reset that does nothing, the broken variant

    class NoReset(ReusedContext):
        def _reset(self, context):
            return True

    @pytest.fixture(scope="session")
    def gate_reused_context(browser, browser_context_args):
        shared = NoReset(browser, browser_context_args)
        yield shared
        shared.recycle()
"""


def test_nothing_of_one_test_reaches_the_next_on_the_shared_page(pytester: pytest.Pytester) -> None:
    """Fails if: the context is not reused (B says so), or any of A's state reaches B."""
    pytester.makepyfile(test_leak=LEAK_TESTS)

    result = pytester.runpytest_subprocess("-n", "0", "-p", "no:randomly")

    result.assert_outcomes(passed=3)


def test_the_leak_checks_fail_when_the_reset_does_nothing(pytester: pytest.Pytester) -> None:
    """The broken variant: a reset that leaves the page as it was. Every leak check must fire."""
    pytester.makepyfile(test_leak=LEAK_TESTS)
    pytester.makeconftest(NO_RESET_CONFTEST)

    result = pytester.runpytest_subprocess("-n", "0", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    for leak in ("cookies leaked", "stream leaked", "records leaked", "storage leaked"):
        assert leak in output, f"{leak!r} not reported:\n{output[-3000:]}"


TRACED_TESTS = """
    from harness.pages import new_draft_path

    def test_one_fails(gate_page):
        gate_page.goto(new_draft_path("marker-one"))
        assert False, "first"

    def test_two_passes(gate_page):
        gate_page.goto(new_draft_path("marker-two"))

    def test_three_fails(gate_page):
        gate_page.goto(new_draft_path("marker-three"))
        assert False, "third"
"""


def _trace_text(trace: Path) -> str:
    with zipfile.ZipFile(trace) as archive:
        return "".join(
            archive.read(name).decode(errors="replace") for name in archive.namelist() if name.endswith(".trace")
        )


def test_each_failing_test_on_the_shared_context_gets_its_own_trace_and_screenshot(pytester: pytest.Pytester) -> None:
    """Fails if: tracing is not restarted per test on the shared context (one trace for all, or none),
    or the artifacts are taken after the reset (a blank page)."""
    pytester.makepyfile(test_traced=TRACED_TESTS)
    output = pytester.path / "results"

    result = pytester.runpytest_subprocess(
        "-n",
        "0",
        "-p",
        "no:randomly",
        "--tracing=retain-on-failure",
        "--screenshot=only-on-failure",
        f"--output={output}",
    )

    result.assert_outcomes(passed=1, failed=2)
    folders = {path.name: path for path in output.iterdir() if path.is_dir()}
    assert sorted(folders) == ["test-traced-py-test-one-fails-chromium", "test-traced-py-test-three-fails-chromium"], (
        sorted(folders)
    )
    for name, marker, other in (("one", "marker-one", "marker-three"), ("three", "marker-three", "marker-one")):
        folder = folders[f"test-traced-py-test-{name}-fails-chromium"]
        assert (folder / "test-failed-1.png").is_file(), sorted(p.name for p in folder.iterdir())
        trace = _trace_text(folder / "trace.zip")
        assert marker in trace and other not in trace, f"{name}: the trace is not this test's own"
