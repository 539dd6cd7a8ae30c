"""The gate's pytest plugin, tested as a user meets it: pytest runs in a fresh folder (pytester).

Each run is a subprocess with the project installed, so the plugin arrives through its `pytest11`
entry point exactly as it does in another repository after `pip install`.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_CLIENT = REPO_ROOT / "e2e" / "mutants" / "clients" / "original_onmessage.js"

HAPPY_PATH_TEST = """
    from playwright.sync_api import expect
    from harness.contract import DRAFTS_API
    from harness.pages import NewDraftPage

    def test_generate(gate_page, gate_scripted):
        new_draft = NewDraftPage(gate_page, DRAFTS_API).open().fill()
        new_draft.generate()
        run = gate_scripted.next_run()
        for message in ("Analyzing...", "Outlining...", "Writing..."):
            run.progress(message)
            expect(new_draft.status).to_have_text(message, timeout=3000)
        run.succeed(title="Done")
        expect(gate_page).to_have_url(DRAFTS_API.editor_url_pattern(), timeout=3000)
"""


def test_options_form_one_group_with_help(pytester: pytest.Pytester) -> None:
    """Fails if: an option is missing, unnamed in help, or outside the gate's group."""
    result = pytester.runpytest_subprocess("--help")
    output = result.stdout.str()
    group = output[output.index("SSE progress gate") :]
    for option in ("--sse-client", "--frontend-dir", "--frontend-url", "--backend-app", "--backend-url", "--redis-url"):
        assert option in group, f"{option} missing from the gate's help group"
    for ini in ("sse_client", "frontend_dir", "backend_app", "backend_url", "redis_url"):
        assert ini in output


def test_ini_options_are_honoured_and_contradictions_refused(pytester: pytest.Pytester) -> None:
    """Fails if: ini settings are ignored (no error here) or a contradiction is silently accepted."""
    pytester.makeini("""
        [pytest]
        backend_app = drafts_api.app:create_app
        backend_url = http://127.0.0.1:9
    """)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--backend-app 'drafts_api.app:create_app' and --backend-url 'http://127.0.0.1:9' exclude each other*"]
    )


def test_header_names_the_browser_and_the_redis(pytester: pytest.Pytester) -> None:
    """Fails if: the header does not say which browser and which Redis the run uses (the binary is
    named in the summary, once a test launched it: see tests/test_plugin_cost.py for why)."""
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(
        ["sse-gate: browser chromium (*", "sse-gate: redis: fakeredis; backend: drafts_api.app:create_app"]
    )
    result.stdout.no_fnmatch_line("sse-gate: browser chromium: *")  # no browser launched, none probed


@pytest.fixture
def outer_redis_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """SSE_GATE_REDIS_URL set in this process, as `make test` sets it for tests/api's real-Redis runs."""
    url = "redis://127.0.0.1:9/0"
    monkeypatch.setenv("SSE_GATE_REDIS_URL", url)
    return url


def test_pytesters_sessions_do_not_inherit_the_outer_redis_url(outer_redis_url: str, pytester: pytest.Pytester) -> None:
    """Fails if: a pytester session reads the SSE_GATE_REDIS_URL of the run that started it (the root
    conftest's `pytester` drops it), so that every plugin test here would run on that Redis."""
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["sse-gate: redis: fakeredis; backend: drafts_api.app:create_app"])
    result.stdout.no_fnmatch_line(f"*{outer_redis_url}*")


def test_public_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    """Fails if: a public fixture has no docstring (pytest --fixtures shows 'no docstring available')."""
    result = pytester.runpytest_subprocess("--fixtures")
    output = result.stdout.str()
    for name in (
        "gate_options",
        "gate_redis_provider",
        "gate_scripted_generator",
        "gate_generation_worker",
        "gate_wire_log",
        "gate_frontend_config",
        "gate_live_frontend",
        "gate_backend_settings",
        "gate_live_backend",
        "gate_backend",
        "gate_scripted",
        "gate_redis_outage",
        "gate_frontend",
        "gate_fault_proxy",
        "gate_foreign_frontend",
        "gate_evidence",
        "gate_page",
        "gate_reused_context",
    ):
        section = output[output.index(f"\n{name} ") :].split("\n", 2)
        assert "no docstring" not in section[1], f"fixture {name} is undocumented: {section[:2]}"


def test_backend_url_makes_scripted_tests_skip_with_a_reason(pytester: pytest.Pytester) -> None:
    """Fails if: scripted tests run (and hang) against a backend the harness cannot step."""
    pytester.makepyfile("def test_scripted(gate_scripted): pass")
    result = pytester.runpytest_subprocess("--backend-url", "http://127.0.0.1:9", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*scripted generation needs a backend the harness builds*"])


def test_backend_start_failure_is_raised_with_the_servers_own_message(pytester: pytest.Pytester) -> None:
    """Fails if: a backend that cannot start hangs the run or fails with a message that hides why."""
    pytester.makepyfile(
        broken_backend="""
        from contextlib import asynccontextmanager
        from fastapi import FastAPI

        @asynccontextmanager
        async def lifespan(app):
            raise RuntimeError("database exploded at start-up")
            yield

        app = FastAPI(lifespan=lifespan)
    """
    )
    pytester.makepyfile(test_it="def test_it(gate_backend): pass")
    result = pytester.runpytest_subprocess("--backend-app", "broken_backend:app", "-p", "no:randomly")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not start*database exploded at start-up*"])


def test_bad_backend_spec_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(gate_backend): pass")
    result = pytester.runpytest_subprocess("--backend-app", "no_colon_here")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend-app wants MODULE:ATTR, got 'no_colon_here'*"])


def test_backend_app_factory_gets_the_parts_it_declares_and_stays_scriptable(pytester: pytest.Pytester) -> None:
    """Fails if: the factory is not called with the scripted generator, or its stream is not served."""
    pytester.makepyfile(
        my_backend="""
        from drafts_api.app import create_app

        def build(settings, generator):
            return create_app(settings, generator=generator)
    """
    )
    pytester.makepyfile(
        test_it="""
        import httpx
        from harness.scripting import ScriptedGenerator

        def test_it(gate_backend, gate_scripted: ScriptedGenerator):
            accepted = httpx.post(gate_backend.url + "/v1/campaigns/c1/drafts/generate",
                                  json={"topic": "Own app", "audience": "Us"}).json()
            gate_scripted.next_run().succeed(title="From my factory")
            with httpx.stream("GET", gate_backend.url + accepted["stream_url"], timeout=5) as response:
                body = "".join(response.iter_text())
            assert "From my factory" in body and "event: done" in body
    """
    )
    result = pytester.runpytest_subprocess("--backend-app", "my_backend:build")
    result.assert_outcomes(passed=1)


def test_the_production_bug_fails_with_a_one_line_diagnosis_and_evidence(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate's reason to exist: the original onmessage client against the real backend.

    Fails if: the suite passes on it, the report does not begin with the named-event mismatch, or the
    evidence files are missing."""
    pytester.makepyfile(test_flow=HAPPY_PATH_TEST)
    output_dir = pytester.path / "results"
    monkeypatch.setenv("COLUMNS", "400")  # the short summary line is cut to the terminal's width
    # `--opt=value`: a separate absolute path would also be taken for a rootdir candidate by pytest.
    result = pytester.runpytest_subprocess(f"--sse-client={ORIGINAL_CLIENT}", f"--output={output_dir}")
    result.assert_outcomes(failed=1)
    stdout = result.stdout.str()
    first_line_after_header = stdout[stdout.index("_ test_generate") :].splitlines()[1:4]
    assert any(
        line.startswith("[sse-gate]") and "onmessage" in line and "named-event mismatch" in line
        for line in first_line_after_header
    ), first_line_after_header
    result.stdout.fnmatch_lines(["FAILED test_flow.py::test_generate*[sse-gate]*named-event mismatch*"])
    (test_dir,) = [path for path in output_dir.iterdir() if path.is_dir()]
    written = {path.name for path in test_dir.iterdir()}
    assert {"wire.jsonl", "page-eventsource.json", "console.log", "backend.log", "diagnosis.txt"} <= written, written
    frames = [json.loads(line) for line in (test_dir / "wire.jsonl").read_text().splitlines()]
    assert "progress" in {frame.get("event") for frame in frames}


def test_the_correct_client_passes_the_same_test(pytester: pytest.Pytester) -> None:
    """The control for the test above: fails if the harness itself breaks the flow, or (where a
    headless shell is installed) a headless run is launched on another binary than the one
    `find_browser` picks for it."""
    pytester.makepyfile(test_flow=HAPPY_PATH_TEST)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["sse-gate: browser chromium: *"])  # the summary names the binary
    from harness.browsers import find_browser

    headless_choice = find_browser("chromium", headless=True).description
    assert f"sse-gate: browser chromium: {headless_choice}" in result.stdout.str(), result.stdout.str()[-2000:]


def test_two_xdist_workers_share_nothing(pytester: pytest.Pytester) -> None:
    """Fails if: workers clash on ports, Redis state or scripted runs (each test sees only its own)."""
    tests = "\n".join(
        textwrap.dedent(HAPPY_PATH_TEST).replace("def test_generate", f"def test_generate_{index}")
        for index in range(4)
    )
    pytester.makepyfile(test_flow=tests.replace("from playwright", "\nfrom playwright", 1))
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=4)
    # The workers launched the browser; the controller's summary names it.
    result.stdout.fnmatch_lines(["sse-gate: browser chromium: *"])


def test_frontend_dir_and_config_injection(pytester: pytest.Pytester) -> None:
    """Fails if: --frontend-dir is ignored or the page is not told where the backend is."""
    site = pytester.mkdir("site")
    (site / "index.html").write_text('<script src="/config.js"></script><h1 id="t">Other frontend</h1>')
    pytester.makepyfile(
        test_it="""
        def test_it(gate_page, gate_backend):
            gate_page.goto("/anything/at/all")
            assert gate_page.text_content("h1") == "Other frontend"
            assert gate_page.evaluate("window.__DRAFTS_CONFIG__.apiBase") == gate_backend.url
    """
    )
    result = pytester.runpytest_subprocess("--frontend-dir", str(site))
    result.assert_outcomes(passed=1)


def test_browser_quirk_mark_expects_failure_on_that_browser_only(pytester: pytest.Pytester) -> None:
    """Fails if: the quirk mark is ignored (a known engine bug fails the matrix) or applies to every
    browser (hiding real failures elsewhere)."""
    pytester.makepyfile("""
        import pytest

        @pytest.mark.browser_quirk("firefox", reason="drops the stream's tail")
        def test_engine(browser_name):
            assert browser_name != "firefox"
    """)
    on_firefox = pytester.runpytest_subprocess("--browser", "firefox", "-rx")
    on_firefox.assert_outcomes(xfailed=1)
    on_firefox.stdout.fnmatch_lines(["*firefox quirk: drops the stream's tail*"])
    pytester.runpytest_subprocess("--browser", "chromium").assert_outcomes(passed=1)


def test_an_app_that_builds_redis_from_a_url_gets_fakeredis(pytester: pytest.Pytester) -> None:
    """Fails if: a `--backend-app` factory's clients built from `redis_url` (sync or async, `from_url`
    or a ConnectionPool, on the first request, i.e. after start-up) miss the worker's fakeredis, or
    the routing leaks into the rest of the session (another URL must still reach redis-py)."""
    pytester.makepyfile(
        url_backend="""
        import redis
        import redis.asyncio
        from redis import from_url as imported_early
        from fastapi import FastAPI

        def create_app(redis_url):
            app = FastAPI()
            clients = {}

            @app.get("/roundtrip")
            async def roundtrip():
                if not clients:  # built lazily, on the first request, as production apps do
                    clients["sync"] = imported_early(redis_url, decode_responses=True)
                    clients["async"] = redis.asyncio.from_url(redis_url)
                    clients["pool"] = redis.Redis(connection_pool=redis.ConnectionPool.from_url(redis_url))
                clients["sync"].set("key", "stored")
                return {
                    "sync": clients["sync"].get("key"),
                    "async": (await clients["async"].get("key")).decode(),
                    "pool": clients["pool"].get("key").decode(),
                }

            return app
    """
    )
    pytester.makepyfile(
        test_it="""
        import httpx
        import pytest
        import redis

        def test_it(gate_backend, gate_redis_provider):
            answer = httpx.get(gate_backend.url + "/roundtrip").json()
            assert answer == {"sync": "stored", "async": "stored", "pool": "stored"}
            assert gate_redis_provider.sync_client().get("key") == b"stored"
            # Port 1: nothing listens there; a real redis-py client must fail to connect.
            with pytest.raises(redis.ConnectionError):
                redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5).ping()
    """
    )
    result = pytester.runpytest_subprocess("--backend-app=url_backend:create_app")
    result.assert_outcomes(passed=1)


def test_a_route_handler_that_raises_still_gets_the_evidence_reported(pytester: pytest.Pytester) -> None:
    """Fails if: a test's own `page.route` handler raising makes the evidence collection crash (the
    report would lose the diagnosis line and the evidence files) instead of reporting."""
    pytester.makepyfile(
        test_it="""
        def test_it(gate_new_draft, gate_page, gate_contract):
            def handle(route):
                raise RuntimeError("handler broke")

            gate_page.route(gate_contract.generate.url_regex(), handle)
            gate_new_draft.generate()
            gate_page.wait_for_timeout(300)
            assert False, "the test's own failure"
    """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]sse-gate[]] *", "*sse-gate evidence*", "files: *"])
    result.stdout.no_fnmatch_line("*could not collect the evidence*")


def test_a_route_handler_error_still_pending_when_the_test_fails_does_not_cost_the_evidence(
    pytester: pytest.Pytester,
) -> None:
    """Fails if: the error of a test's `page.route` handler that Playwright has not raised yet (it
    raises it from the next API call, whichever that is) comes out of the evidence collection's first
    call and loses the diagnosis. The page asks for the routed URL while the test waits, so the
    handler raises after the test's last call was sent; under load the Generate POST did the same."""
    pytester.makepyfile(
        test_it="""
        def test_it(gate_new_draft, gate_page):
            def handle(route):
                raise RuntimeError("handler broke")

            gate_page.route("**/late", handle)
            gate_new_draft.generate()
            gate_page.evaluate("setTimeout(() => fetch('/late').catch(() => {}), 50)")
            gate_page.wait_for_timeout(500)
            assert False, "the test's own failure"
    """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the test's own failure*", "*sse-gate evidence*", "files: *"])
    result.stdout.fnmatch_lines(["*Error occurred in event listener*"])  # the handler did raise
    result.stdout.no_fnmatch_line("*could not collect the evidence*")


def test_known_findings_are_strict_expected_failures_with_their_reason(pytester: pytest.Pytester) -> None:
    """Fails if: a contract's known finding is skipped instead of asserted (a scenario that fails as
    expected must report xfail with the reason; one that passes, the defect fixed, must fail the run)."""
    pytester.makepyfile(
        app_contract="""
        import dataclasses
        from harness.contract import DRAFTS_API

        CONTRACT = dataclasses.replace(
            DRAFTS_API,
            name="with_findings",
            known_findings={"test_defect": "streams pending forever", "test_fixed": "was broken once"},
        )
    """,
        test_it="""
        def test_defect():
            assert False, "the defect"

        def test_fixed():
            pass

        def test_other():
            pass
    """,
    )
    result = pytester.runpytest_subprocess("--gate-contract=app_contract:CONTRACT", "-rxX")
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]XPASS(strict)[]] known finding of with_findings: was broken once*",
            "*XFAIL*test_defect*known finding of with_findings: streams pending forever*",
        ]
    )
