"""The mutant catalogue and its one-session runner, without a browser: do the mutants still apply, does the
plugin group, fail fast and report, does the table tell the truth."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from drafts_api.settings import Settings
from e2e.mutants import _kill_order as kill_order
from e2e.mutants.__main__ import failure_sections, record_samples, write_kill_table
from e2e.mutants._scheduling import scope_of
from e2e.mutants._table import Row, format_operators, format_table, format_totals
from e2e.mutants.apps import mutant_app
from e2e.mutants.backends import BACKEND_MUTANTS
from e2e.mutants.catalogue import CONTROL, all_mutants, equivalent_mutants, not_applicable
from e2e.mutants.clients import CLIENT_MUTANTS, PRODUCTION_CLIENT, ClientMutant, MutantDrift
from e2e.mutants.generated_clients import client_mutants as generated_client_mutants
from e2e.mutants.generated_clients import page_equivalents, page_mutants
from e2e.mutants.logic import LOGIC_MUTANTS
from e2e.mutants.plugin import MutantResult, mutant_id, spread_ids
from e2e.mutants.wire import WIRE_MUTANTS, _HoldBack, _NoComments, parse_frames, render_frames
from e2e.mutants.wire_production_shape import WIRE_MUTANTS as SECOND_APP_WIRE_MUTANTS
from harness.report import ResultEntry, record_result
from harness.scripting import ScriptedGenerator
from harness.state import FakeRedisProvider


def test_catalogue_has_named_mutants_on_both_sides(tmp_path: Path) -> None:
    mutants = all_mutants(tmp_path)
    names = [mutant.name for mutant in mutants]
    assert len(names) == len(set(names)) >= 12
    assert {mutant.side for mutant in mutants} >= {"client", "backend"}
    assert "original_onmessage" in names
    assert all(mutant.operator for mutant in mutants)


@pytest.mark.parametrize("mutant", [*CLIENT_MUTANTS, *generated_client_mutants()], ids=lambda m: m.name)
def test_every_client_mutant_still_applies_to_the_production_client(mutant: ClientMutant, tmp_path: Path) -> None:
    """Fails if: the production client changed under a mutant (it would silently test nothing new)."""
    source = PRODUCTION_CLIENT.read_text(encoding="utf-8")
    path = mutant.write(tmp_path)
    rendered = path.read_text(encoding="utf-8")
    assert rendered != source and rendered.startswith("// MUTANT: ")


def test_a_mutant_that_no_longer_applies_names_itself() -> None:
    mutant = CLIENT_MUTANTS[0]
    with pytest.raises(MutantDrift, match=mutant.name):
        mutant.render("export function subscribeToDraftGeneration() {}")


@pytest.mark.parametrize("name", sorted({**BACKEND_MUTANTS, **WIRE_MUTANTS, **LOGIC_MUTANTS}))
def test_every_backend_mutant_builds_an_app_from_the_harness_parts(name: str) -> None:
    provider = FakeRedisProvider()
    factory = {**BACKEND_MUTANTS, **WIRE_MUTANTS, **LOGIC_MUTANTS}[name]
    app = factory(settings=Settings(), generator=ScriptedGenerator(), redis_factory=provider.async_client, runner=None)
    assert callable(app)


def test_the_catalogue_is_generated_by_operators_on_every_side(tmp_path: Path) -> None:
    mutants = all_mutants(tmp_path)
    assert len(mutants) >= 60
    assert {m.side for m in mutants} == {"client", "backend", "page"}
    operators = {m.operator for m in mutants}
    assert len(operators) >= 25, sorted(operators)


@pytest.mark.parametrize("page", [*page_mutants(), *page_equivalents()], ids=lambda p: p.name)
def test_every_page_mutant_applies_to_the_stub_page(page: object, tmp_path: Path) -> None:
    folder = page.write(tmp_path)  # type: ignore[attr-defined]
    assert (folder / "app.js").read_text().startswith("// MUTANT: ") and (folder / "index.html").is_file()


def test_wire_frames_round_trip_and_a_held_back_event_is_overtaken() -> None:
    chunk = b'retry: 250\r\nevent: progress\r\ndata: {"m":1}\r\n\r\n: heartbeat\r\n\r\n'
    assert render_frames(parse_frames(chunk)) == chunk
    assert render_frames(parse_frames(chunk), "\n") == chunk.replace(b"\r\n", b"\n")
    hold = _HoldBack("progress")
    progress = parse_frames(b"event: progress\ndata: {}\n\n")
    success = parse_frames(b"event: success\ndata: {}\n\n")
    assert hold.frames(progress) == []
    assert hold.frames(success) == success + progress


# --- the one-session runner (e2e.mutants.plugin), on scenarios that only read the options ----------

SCENARIOS = """
def test_client_is_the_real_one(gate_options):
    assert gate_options.sse_client is None


def test_backend_is_the_real_one(gate_options):
    assert gate_options.backend_app is None


def test_after_the_kill(gate_options):
    assert gate_options.sse_client is None


def test_without_the_options():
    pass
"""


REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """In a subprocess (Playwright's assertions keep global state), with this repository importable."""
    pytester._monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    return pytester.runpytest_subprocess("-p", "no:xdist", *args)


def test_the_plugin_runs_each_mutant_and_the_control_in_one_session(pytester: pytest.Pytester) -> None:
    """Fails if: the mutants are not swapped in per parameter, fail-fast skips the control or not a killed
    mutant's remaining tests, or the results lose a verdict."""
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = _run(
        pytester,
        "-p",
        "e2e.mutants.plugin",
        "--gate-mutants=drops_progress,wire_no_heartbeats",
        "--gate-mutants-report=r.json",
    )
    result.assert_outcomes(passed=1 + 3 + 1, failed=2, skipped=2 + 1)  # bare, control, one pass before the 2nd kill
    results = {r["name"]: r for r in json.loads((pytester.path / "r.json").read_text())["results"]}
    control, client, backend = results["(correct system)"], results["drops_progress"], results["wire_no_heartbeats"]
    assert (control["verdict"], control["passed"]) == ("passed", 3)
    assert client["verdict"] == "killed" and client["failed"][0].startswith("test_client_is_the_real_one")
    assert client["skipped"] == 2, "fail-fast: the remaining tests of a killed mutant are skipped"
    assert backend["verdict"] == "killed" and backend["failed"][0].startswith("test_backend_is_the_real_one")
    assert backend["passed"] == 1 and backend["skipped"] == 1
    assert client["diagnosis"].startswith("(no gate diagnosis)") and not client["named"]


def test_under_xdist_each_mutant_runs_on_one_worker_and_stops_at_its_kill(pytester: pytest.Pytester) -> None:
    """Fails if: the mutant scheduler is not used (pytest-xdist's `load` spreads a mutant's tests over
    both workers: each builds the mutant's servers, and one runs tests of a mutant the other killed).
    The control is free to spread (`test_the_mutants_that_run_in_full_spread_...`)."""
    pytester.makepyfile(test_scenarios=SCENARIOS)
    pytester._monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "-p",
        "e2e.mutants.plugin",
        "--gate-mutants=drops_progress,wire_no_heartbeats,wire_drop_progress",
        "--gate-mutants-report=r.json",
    )
    result.assert_outcomes(passed=1 + 3 + 1 + 1, failed=3, skipped=2 + 1 + 1)
    results = {r["name"]: r for r in json.loads((pytester.path / "r.json").read_text())["results"]}
    for name, mutant in results.items():
        if name != "(correct system)":  # the control runs in full: its tests may spread (see below)
            assert len(mutant["workers"]) == 1, f"{name} ran on workers {mutant['workers']}"
    assert {w for r in results.values() for w in r["workers"]} == {"gw0", "gw1"}, "both workers took mutants"
    assert results["drops_progress"]["failed"] == ["test_client_is_the_real_one[drops_progress]"]
    assert results["drops_progress"]["skipped"] == 2


def test_the_scheduler_scopes_a_test_by_its_mutant_parameter_alone() -> None:
    """Fails if: a mutant whose name begins another's takes the other's tests, a mutant parameter
    beside another parameter is missed, or a test without one joins a mutant's scope."""
    ids = ["control", "wire_drop", "wire_drop_progress"]
    assert scope_of("e2e/t.py::test_x[wire_drop_progress]", ids) == "mutant:wire_drop_progress"
    assert scope_of("e2e/t.py::test_x[redis-wire_drop]", ids) == "mutant:wire_drop"
    assert scope_of("e2e/t.py::test_x[wire_drop-fakeredis]", ids) == "mutant:wire_drop"
    assert scope_of("e2e/t.py::test_x[a-control-b]", ids) == "mutant:control"
    assert scope_of("e2e/t.py::test_plain", ids) == "e2e/t.py::test_plain"
    assert scope_of("e2e/t.py::test_x[wire_dropped]", ids) == "e2e/t.py::test_x[wire_dropped]"
    # A mutant that runs in full: each of its tests is a scope of its own, free to go to any worker.
    assert scope_of("e2e/t.py::test_x[chromium-control]", ids, ["control"]) == "e2e/t.py::test_x[chromium-control]"
    assert scope_of("e2e/t.py::test_x[wire_drop-a]", ids, ["control"]) == "mutant:wire_drop"


def test_the_mutants_that_run_in_full_spread_and_the_fail_fast_ones_do_not(tmp_path: Path) -> None:
    """Fails if: a fail-fast mutant's tests may spread (a worker would run a test of a mutant another
    killed), or the control, an equivalent or the regression client is held on one worker."""
    mutants = [
        CONTROL,
        *equivalent_mutants(tmp_path, mutant_app("drafts_api")),
        *all_mutants(tmp_path, mutant_app("drafts_api")),
    ]
    spread = set(spread_ids(mutants))
    assert "control" in spread and "original_onmessage" in spread, sorted(spread)
    assert {m.name for m in mutants if m.side == "equivalent"} <= spread
    assert not spread & {"wire_drop_progress", "drops_progress", "page_button_left_enabled"}, sorted(spread)
    assert all(m.runs_in_full == (mutant_id(m) in spread) for m in mutants)


def test_a_mutants_last_known_killer_runs_first_in_its_group(pytester: pytest.Pytester) -> None:
    """Fails if: the kill order is ignored (the mutant first passes the scenarios before its killer),
    or a stale entry (a test that no longer exists) breaks the run instead of only ordering it."""
    order = {"drafts_api": {"wire_no_heartbeats": "test_after_the_kill", "drops_progress": "test_renamed_since"}}
    (pytester.path / "order.json").write_text(json.dumps(order))
    args = (
        "-p",
        "e2e.mutants.plugin",
        "--gate-mutants=wire_no_heartbeats,drops_progress",
        "--gate-mutants-report=r.json",
    )
    # wire_no_heartbeats's backend fails both backend tests: listed first, `test_after_the_kill` kills it.
    pytester.makepyfile(
        test_scenarios=SCENARIOS.replace(
            "def test_after_the_kill(gate_options):\n    assert gate_options.sse_client is None",
            "def test_after_the_kill(gate_options):\n    assert gate_options.backend_app is None",
        )
    )
    _run(pytester, *args, "--gate-mutants-kill-order=order.json")
    results = {r["name"]: r for r in json.loads((pytester.path / "r.json").read_text())["results"]}
    backend, client = results["wire_no_heartbeats"], results["drops_progress"]
    assert backend["failed"] == ["test_after_the_kill[wire_no_heartbeats]"], backend
    assert (backend["passed"], backend["skipped"]) == (0, 2), "the known killer ran first: nothing before it"
    assert client["verdict"] == "killed" and client["failed"][0].startswith("test_client_is_the_real_one")
    _run(pytester, *args, "--gate-mutants-kill-order=")
    without = {r["name"]: r for r in json.loads((pytester.path / "r.json").read_text())["results"]}
    assert without["wire_no_heartbeats"]["failed"][0].startswith("test_backend_is_the_real_one"), "file order"


def test_a_broken_kill_order_file_is_a_usage_error_naming_it(pytester: pytest.Pytester) -> None:
    (pytester.path / "order.json").write_text('{"drafts_api": ["not", "a", "map"]}')
    result = _run(pytester, "-p", "e2e.mutants.plugin", "--gate-mutants=all", "--gate-mutants-kill-order=order.json")
    assert "--gate-mutants-kill-order:" in result.stderr.str() and "['not', 'a', 'map']" in result.stderr.str()


def test_writing_the_kill_order_keeps_other_apps_and_drops_the_parameters(tmp_path: Path) -> None:
    path = tmp_path / "kill_order.json"
    path.write_text(json.dumps({"other_app": {"m9": "test_z"}, "drafts_api": {"gone": "test_old"}}))
    results = [
        {"name": "(correct system)", "side": "control", "failed": []},
        {"name": "equivalent_x", "side": "equivalent", "failed": ["test_q[chromium-equivalent_x]"]},
        {"name": "m1", "side": "client", "failed": ["test_y[chromium-m1]", "test_w[chromium-m1]"]},
        {"name": "m2", "side": "backend", "failed": []},
    ]
    assert kill_order.write(path, "drafts_api", results) == {"m1": "test_y"}
    assert kill_order.load(path, "drafts_api") == {"m1": "test_y"}
    assert kill_order.load(path, "other_app") == {"m9": "test_z"}
    assert kill_order.load(tmp_path / "absent.json", "drafts_api") == {}


@pytest.mark.parametrize("app", ["drafts_api", "production_shape"])
def test_the_committed_kill_order_names_real_mutants_and_scenarios(app: str, tmp_path: Path) -> None:
    """Fails if: kill_order.json went stale (a renamed test or mutant): refresh it with
    `make mutants MUTANTS_ARGS=--write-kill-order` (and `--app production_shape`)."""
    first = kill_order.load(kill_order.KILL_ORDER_FILE, app)
    assert first, f"no kill order for {app} in {kill_order.KILL_ORDER_FILE}"
    mutants = {m.name for m in all_mutants(tmp_path, mutant_app(app))}
    scenarios = {
        node.name
        for source in (REPO_ROOT / "e2e").glob("test_*.py")
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert not set(first) - mutants, f"unknown mutants: {sorted(set(first) - mutants)}"
    assert not set(first.values()) - scenarios, f"unknown scenarios: {sorted(set(first.values()) - scenarios)}"


def test_a_survivor_and_a_failing_control_are_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenarios="def test_always_fails(gate_options):\n    assert False\n")
    _run(pytester, "-p", "e2e.mutants.plugin", "--gate-mutants=drops_progress", "--gate-mutants-report=r.json")
    results = {r["name"]: r["verdict"] for r in json.loads((pytester.path / "r.json").read_text())["results"]}
    assert results == {"(correct system)": "FAILED", "drops_progress": "killed"}
    pytester.makepyfile(test_scenarios="def test_always_passes(gate_options):\n    pass\n")
    _run(pytester, "-p", "e2e.mutants.plugin", "--gate-mutants=drops_progress", "--gate-mutants-report=r.json")
    results = {r["name"]: r["verdict"] for r in json.loads((pytester.path / "r.json").read_text())["results"]}
    assert results == {"(correct system)": "passed", "drops_progress": "SURVIVED"}


# The shape of pytest's FAILURES section (pytest 9): a header per failed test, then its traceback.
PYTEST_LOG = """\
FsssF.                                                                   [100%]
=================================== FAILURES ===================================
____________ test_flow[chromium-control] ____________

    def test_flow():
>       expect(status).to_have_text("Writing...")
E       AssertionError: Locator expected to have text 'Writing...'
____________ test_flow[chromium-wire_drop_progress] ____________
E       AssertionError: killed, as it should be
=========================== short test summary info ============================
FAILED e2e/test_x.py::test_flow[chromium-control] - AssertionError
"""


def test_a_failing_controls_traceback_is_shown_and_no_kills() -> None:
    """Fails if: a failing control is only named (make test no longer runs the scenarios outside the
    mutant check for the second app), or the kills' sections are printed with it."""
    shown = failure_sections(PYTEST_LOG, ["test_flow[chromium-control]"])
    assert "AssertionError: Locator expected to have text 'Writing...'" in shown, shown
    assert "killed, as it should be" not in shown and "short test summary" not in shown, shown
    assert failure_sections(PYTEST_LOG, []) == ""


def test_two_apps_catalogues_run_at_once_and_each_verdict_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails if: the second app's session starts only after the first has ended (the catalogues mostly
    wait: at once they take 157 s on 2 cores, one after the other 226 s), or one app's failing
    verdict is lost behind the other's."""
    from e2e.mutants import __main__ as cli

    events: list[str] = []

    class Session:
        """Stands in for one app's pytest session: its results appear when it is waited for."""

        def __init__(self, command: list[str], **kwargs: Any) -> None:
            self.app = next(a.split("=", 1)[1] for a in command if a.startswith("--gate-mutants-app="))
            self.report = Path(next(a.split("=", 1)[1] for a in command if a.startswith("--gate-mutants-report=")))
            events.append(f"start {self.app}")

        def wait(self) -> int:
            events.append(f"wait {self.app}")
            verdict = "SURVIVED" if self.app == "production_shape" else "killed"
            rows = [
                {**asdict(Row("(correct system)", "control", "control", "passed", (), "", False)), "failed": []},
                {**asdict(Row("m", "client", "op", verdict, ("t[m]",) * (verdict == "killed"), "why", True))},
            ]
            self.report.write_text(json.dumps({"seconds": 1.0, "results": rows}))
            return 0

    monkeypatch.setattr(cli, "MUTANTS_ROOT", tmp_path)
    monkeypatch.setattr(subprocess, "Popen", Session)
    monkeypatch.setattr(cli, "write_kill_table", lambda rows, folder: folder / "report.html")

    assert cli.main(["--app", "drafts_api", "--app", "production_shape"]) == 1

    assert events == ["start drafts_api", "start production_shape", "wait drafts_api", "wait production_shape"]
    out, err = capsys.readouterr()
    assert out.index("m  ") < out.index("mutants: 1 of 1 killed") < out.index("mutants: 0 of 1 killed"), out
    assert "production_shape: m: SURVIVED" in err, err


def test_an_unknown_mutant_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "-p", "e2e.mutants.plugin", "--gate-mutants=no_such_mutant")
    assert "--gate-mutants: unknown mutants ['no_such_mutant']" in result.stderr.str()


def test_the_table_shows_operator_verdict_and_whether_the_kill_was_named() -> None:
    rows = [
        Row("(correct system)", "control", "control", "passed", (), "", False),
        Row("m1", "client", "listen_to_another_name", "killed", ("test_x[chromium-m1]",), "why", True),
        Row(
            "m2", "client", "listen_to_another_name", "killed", ("test_y[chromium-m2]",), "no rule matched: ...", False
        ),
        Row("m3", "backend", "drop_header", "SURVIVED", (), "", False),
    ]
    table = format_table(rows)
    assert "listen_to_another_name" in table and "test_x" in table and "fallback" in table and "SURVIVED" in table
    operators = format_operators(rows).splitlines()
    assert any(line.split()[:5] == ["listen_to_another_name", "2", "2", "100%", "1/2"] for line in operators)
    assert any(line.split()[:5] == ["drop_header", "1", "0", "0%", "0/0"] for line in operators)
    assert format_totals(rows, 12.0).startswith("mutants: 2 of 3 killed (67%); 1 of 2 kills named specifically (50%)")
    assert not rows[3].ok and rows[0].ok


def test_record_samples_copies_kills_and_healthy_runs_with_an_index(tmp_path: Path) -> None:
    evidence = tmp_path / "run" / "evidence.json"
    evidence.parent.mkdir()
    evidence.write_text('{"schema_version": 2}')
    results: list[dict[str, Any]] = [
        {
            "name": "(correct system)",
            "verdict": "passed",
            "evidence": "",
            "healthy": {"test_flow[chromium-control]": str(evidence)},
        },
        {
            "name": "m1",
            "verdict": "killed",
            "evidence": str(evidence),
            "rule": "named_event_mismatch",
            "diagnosis": "why",
            "operator": "op",
        },
        {"name": "m2", "verdict": "SURVIVED", "evidence": "", "rule": "", "diagnosis": "", "operator": "op"},
    ]
    line = record_samples(results, tmp_path / "samples")
    assert "recorded 2 evidence samples" in line
    index = json.loads((tmp_path / "samples" / "index.json").read_text())
    assert index["gate_m1"] == {"rule": "named_event_mismatch", "line": "why", "operator": "op"}
    assert "healthy_gate_flow" in index and (tmp_path / "samples" / "healthy_gate_flow.json").is_file()


def test_the_kill_table_reaches_the_run_report(tmp_path: Path) -> None:
    """Fails if: `make mutants` leaves the run report without its kill table (issue 15)."""
    record_result(tmp_path, ResultEntry("e2e/t.py::test_a[chromium]", "failed", "call", 0.1, "why", worker="gw0"))
    rows = [
        Row("wire_drop_progress", "backend", "wire: drop", "killed", ("e2e/t.py::test_a",), "a <b> line", True),
        Row("client_never_close", "client", "client: never close", "SURVIVED", (), "", False),
    ]
    report = write_kill_table(rows, tmp_path)
    table = json.loads((tmp_path / "mutants.json").read_text())["mutants"]
    assert [(m["name"], m["verdict"]) for m in table] == [
        ("wire_drop_progress", "killed"),
        ("client_never_close", "SURVIVED"),
    ]
    page = report.read_text()
    assert "wire_drop_progress" in page and "client_never_close" in page and "a &lt;b&gt; line" in page, page[:2000]


def test_the_second_app_gets_its_own_catalogue_of_generated_operators(tmp_path: Path) -> None:
    """The mutant check of the production-shaped example: client, wire and page operators over its own
    client, contract and overlay; the reference backend's hand-written mutants are not among them."""
    app = mutant_app("production_shape")
    mutants = all_mutants(tmp_path, app)
    names = [m.name for m in mutants]
    assert len(names) == len(set(names)) >= 50, names
    assert {m.side for m in mutants} == {"client", "backend", "page"}
    assert not set(names) & {*BACKEND_MUTANTS, *LOGIC_MUTANTS}
    assert all(m.backend_app.startswith("e2e.mutants.wire_production_shape:") for m in mutants if m.backend_app)
    # Its client reads the status text its own way: the operator with nothing to change is listed, not run.
    assert not_applicable(app) == ["client_field_status_text"]
    for mutant in mutants:
        if mutant.sse_client is not None and mutant.name != "original_onmessage":
            assert "pending`/`started`: a state, no text" in mutant.sse_client.read_text(encoding="utf-8")
    page = next(m for m in mutants if m.side == "page")
    assert page.frontend_dir is not None
    assert (page.frontend_dir / "lib" / "draft-stream.js").read_bytes() == app.client.read_bytes()


def test_the_second_app_wire_mutants_take_its_factory_parameters() -> None:
    """The harness scripts a wrapped app as the app itself (by its task state): same parameters."""
    from examples.production_shape.contract import CONTRACT
    from examples.production_shape.gate import create_gate_app

    expected = inspect.signature(create_gate_app)
    for name, factory in SECOND_APP_WIRE_MUTANTS.items():
        assert inspect.signature(factory) == expected, name
    app = SECOND_APP_WIRE_MUTANTS["wire_drop_progress"](
        redis_url="redis://127.0.0.1:1/0",
        held_generation=None,
        on_reset=lambda hook: None,
        cors_origins=(),
        contract=CONTRACT,
    )
    assert callable(app)


def test_a_heartbeat_dropped_from_the_wire_leaves_every_event() -> None:
    frames = parse_frames(b"retry: 250\r\n\r\n: keepalive\r\n\r\nevent: done\r\ndata: {}\r\n\r\n")
    kept = _NoComments().frames(frames)
    assert render_frames(kept) == b"retry: 250\r\n\r\nevent: done\r\ndata: {}\r\n\r\n"


def test_the_regression_fixture_must_be_named_as_such_in_every_scenario_it_fails(tmp_path: Path) -> None:
    """Fails if: the production client runs fail-fast (only its first failure is checked), or a failure
    diagnosed by another rule (or the fallback) still counts as a kill."""
    for app in ("drafts_api", "production_shape"):
        original = next(m for m in all_mutants(tmp_path / app, mutant_app(app)) if m.name == "original_onmessage")
        assert original.expected_rule == "named_event_mismatch"
    result = MutantResult(
        "original_onmessage",
        "client",
        "regression",
        "the production client",
        failed=["test_a", "test_b"],
        rules=["named_event_mismatch", ""],
        expected_rule="named_event_mismatch",
    )
    assert result.verdict == "MISNAMED" and result.misnamed == ["test_b: fallback"]
    assert not Row.from_json({**asdict(result), "verdict": result.verdict, "named": result.named}).ok
    result.rules[1] = "named_event_mismatch"
    assert result.verdict == "killed"
