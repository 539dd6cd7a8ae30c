"""The plugin costs nothing where it is not used: it loads in every pytest session of the environment
(entry point), so a session that requests no gate fixture must spawn no process and open no server.

Each run is a subprocess (pytester) with an audit hook installed by a `-p` plugin, which pytest
imports before the entry-point plugins: every process spawn (`subprocess.Popen`, `os.posix_spawn`,
`os.exec*`, `os.fork`) and every socket bind or listen of the whole session is written to a file.
The control runs prove the audit sees both kinds, so an empty record cannot come from a blind audit.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

AUDIT_PLUGIN = """
    import json, os, sys

    RECORD = os.environ["SSE_GATE_AUDIT_FILE"]
    WATCHED = ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork", "os.spawn", "socket.bind", "socket.listen")
    events = []

    def _audit(event, args):
        if event.startswith(WATCHED):
            events.append([event, repr(args)[:200]])

    sys.addaudithook(_audit)

    def pytest_unconfigure(config):
        heavy = ("fastapi", "uvicorn", "starlette", "fakeredis", "redis", "drafts_api", "httpx")
        imported = sorted({name.split(".")[0] for name in sys.modules} & set(heavy))
        with open(RECORD, "w") as record:
            json.dump({"events": events, "imported": imported}, record)
"""

UNRELATED_TESTS = """
    def test_arithmetic():
        assert 1 + 1 == 2

    def test_with_a_builtin_fixture(tmp_path):
        assert tmp_path.is_dir()
"""


def run_audited(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, list[Any]]:
    pytester.makepyfile(sse_gate_audit=AUDIT_PLUGIN)
    record = pytester.path / "audit.json"
    monkeypatch.setenv("SSE_GATE_AUDIT_FILE", str(record))
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))  # so that `-p sse_gate_audit` imports
    result = pytester.runpytest_subprocess("-p", "sse_gate_audit", "-p", "no:cacheprovider", *args)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()
    audit: dict[str, list[Any]] = json.loads(record.read_text())
    return audit


def test_a_session_without_gate_fixtures_spawns_nothing_and_serves_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails if: the header (or any hook) probes the browser (`playwright install --dry-run`,
    `chromium --version`), anything starts a server, or the plugin imports the servers' libraries
    (FastAPI, uvicorn, fakeredis: ~0.8 s of CPU) in a session that never uses the gate."""
    pytester.makepyfile(test_unrelated=UNRELATED_TESTS)
    audit = run_audited(pytester, monkeypatch, "-v")
    # Other plugins of the environment may do things of their own in every session (pytest-html's
    # pytest-metadata runs `uname -p`; hypothesis probes for IPv6 with a bind): what counts is what
    # this plugin adds, so the same session without it is the baseline, event kind by event kind.
    baseline = run_audited(pytester, monkeypatch, "-v", "-p", "no:harness.plugin")
    added = Counter(event for event, _ in audit["events"]) - Counter(event for event, _ in baseline["events"])
    assert added == Counter(), f"the plugin added {dict(added)}: {audit['events']} (without it: {baseline['events']})"
    assert set(audit["imported"]) - set(baseline["imported"]) == set(), audit["imported"]


def test_the_plugin_is_loaded_in_that_session(pytester: pytest.Pytester) -> None:
    """The premise of the test above: the plugin is active there (its header lines are printed)."""
    pytester.makepyfile(test_unrelated=UNRELATED_TESTS)
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["sse-gate: browser chromium (*", "sse-gate: redis: fakeredis; *"])
    result.assert_outcomes(passed=2)


def test_control_the_audit_sees_a_spawned_process(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(
        test_spawns="import subprocess, sys\n\ndef test_it():\n    subprocess.run([sys.executable, '-c', 'pass'])\n"
    )
    events = run_audited(pytester, monkeypatch)["events"]
    assert any(event == "subprocess.Popen" for event, _ in events), events


def test_control_the_audit_sees_a_server_start(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gate fixture that starts the frontend (a uvicorn thread on loopback) is seen binding, and
    importing what it needs."""
    pytester.makepyfile(
        test_serves="def test_it(gate_frontend):\n    assert gate_frontend.startswith('http://127.0.0.1:')\n"
    )
    audit = run_audited(pytester, monkeypatch)
    binds = Counter(event for event, _ in audit["events"])["socket.bind"]
    pytester.makepyfile(test_serves=UNRELATED_TESTS)
    baseline = Counter(event for event, _ in run_audited(pytester, monkeypatch)["events"])["socket.bind"]
    assert binds > baseline, audit  # the comparison the test above makes sees a server start
    assert {"starlette", "uvicorn"} <= set(audit["imported"]), audit


UNUSED_PLUGINS = ("hypothesispytest", "schemathesis")


def test_the_plugins_no_test_uses_stay_off_here_and_in_pytesters_sessions(
    request: pytest.FixtureRequest, pytester: pytest.Pytester
) -> None:
    """Fails if: pyproject's addopts or the root conftest's `pytester` stop turning off the hypothesis
    and schemathesis plugins (1.4 CPU-s each in every session: controller, xdist workers, pytester's)."""
    ours = request.config.pluginmanager
    assert all(ours.is_blocked(name) and not ours.has_plugin(name) for name in UNUSED_PLUGINS), UNUSED_PLUGINS
    pytester.makepyfile(
        test_inner=f"""
        def test_inner(request):
            manager = request.config.pluginmanager
            assert all(manager.is_blocked(name) and not manager.has_plugin(name) for name in {UNUSED_PLUGINS!r})
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
