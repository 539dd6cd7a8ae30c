"""`pytest e2e -p e2e.mutants.plugin --gate-mutants=all`: the e2e scenarios against every mutant, one session.

Each browser test is parametrized by a session-scoped `gate_mutant` (the control first), so pytest
runs the tests grouped by mutant, swaps the servers between groups and launches the browser once.
Fail-fast per mutant: once a test kills a mutant, its remaining tests are skipped; the control (and
every equivalent variant) runs in full. Within a group the mutant's last known killer runs first
(`_kill_order.py`), then the tests that kill the most.
Under pytest-xdist, each fail-fast mutant's tests run on one worker (`_scheduling.MutantScheduling`):
the servers are built once per mutant, not once per worker, and no worker runs a test of a mutant
another has already killed; the tests of the mutants that run in full spread over the workers. The controller
collects one result per mutant (verdict, the killing test, the first diagnosis line) and writes
them as JSON for `python -m e2e.mutants`, which prints the table.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from xdist.remote import Producer

from e2e.mutants import _fixtures, _kill_order
from e2e.mutants._scheduling import MutantScheduling
from e2e.mutants.apps import APPS, REFERENCE, mutant_app
from e2e.mutants.catalogue import CONTROL, Mutant, all_mutants, equivalent_mutants
from harness.evidence import EVIDENCE_FILE
from harness.recording import EvidenceCollector

DIAGNOSIS_PREFIX = "[sse-gate] "
FALLBACK_PREFIX = "no rule matched"
_MUTANT_PROPERTY = "gate_mutant"
_DIAGNOSIS_PROPERTY = "gate_diagnosis"
_RULE_PROPERTY = "gate_rule"
_EVIDENCE_PROPERTY = "gate_evidence_file"
_WORKER_PROPERTY = "gate_worker"

# Tests that kill the most mutants run first in each group (a kill ends the group early).
KILLERS = (
    "test_progress_appears_in_order_while_running_then_editor_shows_draft",
    "test_backend_failure_message_is_shown_verbatim_without_redirect_or_reconnect",
    "test_every_frame_is_named_has_data_and_matches_the_protocol",
    "test_stream_headers_defeat_buffering_and_caching",
    "test_one_stream_connection_per_generation_closed_by_the_page_on_success",
    "test_draft_is_readable_the_moment_success_arrives",
    "test_backend_gone_for_good_gives_up_with_connection_lost",
    "test_unknown_task_shows_a_clear_message_and_stops",
    "test_backend_restart_mid_generation_reconnects_and_finishes",
    "test_heartbeats_keep_a_quiet_stream_alive_through_an_idle_timeout",
    "test_progress_passes_a_buffering_proxy_thanks_to_x_accel_buffering",
)


# The equivalent variants run these scenarios (the flow, both outcomes, the wire checks, one
# connection, a reconnect): where a harmless change of the wire or the page would raise a false
# alarm. The whole suite for each of them would cost more than the rest of the catalogue.
EQUIVALENT_SCENARIOS = (
    "test_progress_appears_in_order_while_running_then_editor_shows_draft",
    "test_backend_failure_message_is_shown_verbatim_without_redirect_or_reconnect",
    "test_every_frame_is_named_has_data_and_matches_the_protocol",
    "test_stream_headers_defeat_buffering_and_caching",
    "test_one_stream_connection_per_generation_closed_by_the_page_on_success",
    "test_page_listens_for_every_event_the_backend_sends_and_logs_no_errors",
    "test_backend_restart_mid_generation_reconnects_and_finishes",
    "test_heartbeats_keep_a_quiet_stream_alive_through_an_idle_timeout",
    "test_last_progress_right_before_the_terminal_event_keeps_the_terminal_event_last",
)


@dataclass
class MutantResult:
    name: str
    side: str
    operator: str
    summary: str
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    diagnosis: str = ""  # the first failure's diagnosis line, without the prefix
    rule: str = ""  # the rule that made it
    evidence: str = ""  # the first failure's evidence.json
    healthy: dict[str, str] = field(default_factory=dict)  # control: test -> its evidence.json (when recording)
    seconds: float = 0.0
    rules: list[str] = field(default_factory=list)  # the rule of each failure, in the order of `failed`
    expected_rule: str = ""  # set: every failure must be diagnosed by it (`Mutant.expected_rule`)
    workers: list[str] = field(default_factory=list)  # the xdist workers that ran its tests (one, by design)

    @property
    def misnamed(self) -> list[str]:
        """Failures diagnosed by another rule than the expected one (`test: rule`)."""
        if not self.expected_rule:
            return []
        return [
            f"{t}: {r or 'fallback'}" for t, r in zip(self.failed, self.rules, strict=False) if r != self.expected_rule
        ]

    @property
    def verdict(self) -> str:
        if self.side in ("control", "equivalent"):
            return "passed" if not self.failed and not self.errors and self.passed else "FAILED"
        if self.failed:
            return "MISNAMED" if self.misnamed else "killed"
        return "ERROR" if self.errors else "SURVIVED"

    @property
    def named(self) -> bool:
        """The kill's first line came from a rule, not the fallback summary."""
        return bool(self.diagnosis) and not self.diagnosis.startswith((FALLBACK_PREFIX, "(no gate diagnosis)"))


@dataclass
class _State:
    mutants: list[Mutant]
    first: Mapping[str, str] = field(default_factory=dict)  # mutant -> its last known killer (`_kill_order`)
    # mutant -> the test that killed it, in this process: a mutant's tests all run on one worker
    killed: dict[str, str] = field(default_factory=dict)
    results: dict[str, MutantResult] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


_STATE: pytest.StashKey[_State] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sse-gate-mutants", "SSE gate mutant catalogue (e2e.mutants)")
    group.addoption(
        "--gate-mutants",
        default=None,
        help="'all' or comma-separated mutant names: run every browser test against each, the control first",
    )
    group.addoption("--gate-mutants-dir", default=".mutants", help="where generated mutant files go")
    group.addoption(
        "--gate-mutants-app",
        default=REFERENCE,
        choices=sorted(APPS),
        help=f"the app whose catalogue runs (default {REFERENCE}); point the gate at it with its own options",
    )
    group.addoption(
        "--gate-mutants-expect-ms",
        type=int,
        default=2000,
        help="Playwright's expect timeout in the mutant session (default 2000; the control must pass with it)",
    )
    group.addoption(
        "--gate-mutants-record",
        action="store_true",
        help="also save the evidence of every passing control test (healthy samples) next to the failures'",
    )
    group.addoption("--gate-mutants-report", default=None, help="write one result per mutant here (JSON)")
    group.addoption(
        "--gate-mutants-kill-order",
        default=str(_kill_order.KILL_ORDER_FILE),
        help="JSON of each mutant's last known killer, run first in its group ('' for none; "
        "default e2e/mutants/kill_order.json)",
    )


def selected_mutants(config: pytest.Config) -> list[Mutant]:
    wanted = str(config.getoption("gate_mutants"))
    workdir = config.invocation_params.dir / str(config.getoption("gate_mutants_dir"))
    app = mutant_app(str(config.getoption("gate_mutants_app")))
    catalogue = all_mutants(workdir, app)
    equivalents = equivalent_mutants(workdir, app)
    if wanted == "all":
        return [CONTROL, *equivalents, *catalogue]
    catalogue += equivalents
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    by_name = {m.name: m for m in catalogue}
    unknown = [name for name in names if name not in by_name and name != "control"]
    if unknown:
        raise pytest.UsageError(f"--gate-mutants: unknown mutants {unknown}; known: {sorted(by_name)}")
    return [CONTROL, *(by_name[name] for name in names if name != "control")]


@pytest.hookimpl(trylast=True)  # after harness.plugin registered the fixtures this overrides
def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("gate_mutants", None):
        return
    kill_order = str(config.getoption("gate_mutants_kill_order"))
    try:
        first = (
            _kill_order.load(config.invocation_params.dir / kill_order, str(config.getoption("gate_mutants_app")))
            if kill_order
            else {}
        )
    except ValueError as error:
        raise pytest.UsageError(f"--gate-mutants-kill-order: {error}") from error
    state = config.stash[_STATE] = _State(selected_mutants(config), first)
    config.pluginmanager.register(_fixtures, "e2e.mutants._fixtures")
    if not hasattr(config, "workerinput"):  # the controller, or the only process: it sees every report
        report = config.getoption("gate_mutants_report")
        path = config.invocation_params.dir / str(report) if report else None
        config.pluginmanager.register(_Collector(state, path), "e2e.mutants.collector")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = metafunc.config.stash.get(_STATE, None)
    if state is not None and "gate_mutant" in metafunc.fixturenames:
        ids = [mutant_id(m) for m in state.mutants]
        metafunc.parametrize("gate_mutant", state.mutants, ids=ids, indirect=True, scope="session")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent under `-p no:xdist`
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> MutantScheduling | None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return None
    return MutantScheduling(config, log, (mutant_id(m) for m in state.mutants), spread_ids(state.mutants))


def spread_ids(mutants: list[Mutant]) -> list[str]:
    """The mutants whose tests may run on any worker: those that run in full (no kill to share)."""
    return [mutant_id(m) for m in mutants if m.runs_in_full]


def mutant_id(mutant: Mutant) -> str:
    return "control" if mutant is CONTROL else mutant.name


def _test_of(nodeid: str) -> str:
    """`test_x[mutant]` from a node id."""
    return nodeid.split("::")[-1]


def _mutant_of(item: pytest.Item) -> Mutant | None:
    callspec = getattr(item, "callspec", None)
    mutant = callspec.params.get("gate_mutant") if callspec is not None else None
    return mutant if isinstance(mutant, Mutant) else None


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by parameter
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    order = {m.name: index for index, m in enumerate(state.mutants)}
    rank = {name: index for index, name in enumerate(KILLERS)}

    def key(indexed: tuple[int, pytest.Item]) -> tuple[int, bool, int, int]:
        index, item = indexed
        mutant = _mutant_of(item)
        function = getattr(item, "originalname", item.name)
        known_killer = mutant is not None and state.first.get(mutant.name) == function
        return (order[mutant.name] if mutant else -1, not known_killer, rank.get(function, len(rank)), index)

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash.get(_STATE, None)
    mutant = _mutant_of(item)
    if state is None or mutant is None or mutant is CONTROL:
        return
    if mutant.must_pass:
        if getattr(item, "originalname", item.name) not in EQUIVALENT_SCENARIOS:
            pytest.skip("an equivalent variant runs the core scenarios only (EQUIVALENT_SCENARIOS)")
        return
    if mutant.expected_rule:
        return  # runs every scenario: each failure's diagnosis is checked
    if mutant.name in state.killed:
        pytest.skip(f"mutant {mutant.name} already killed by {state.killed[mutant.name]}")


def _diagnosis_line(report: pytest.TestReport) -> str:
    for line in report.longreprtext.splitlines():
        if line.strip().startswith(DIAGNOSIS_PREFIX):
            return line.strip().removeprefix(DIAGNOSIS_PREFIX)
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", "") or report.longreprtext
    return "(no gate diagnosis) " + (message.splitlines()[0][:160] if message else "")


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: sees the report after the gate led it with its line
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.config.stash.get(_STATE, None)
    mutant = _mutant_of(item)
    if state is None or mutant is None:
        return report
    report.user_properties.append((_MUTANT_PROPERTY, mutant.name))
    report.user_properties.append((_WORKER_PROPERTY, os.environ.get("PYTEST_XDIST_WORKER", "")))
    collector = item.stash.get(EvidenceCollector.STASH_KEY, None)
    if report.failed and report.when == "call":
        report.user_properties.append((_DIAGNOSIS_PROPERTY, _diagnosis_line(report)))
        if collector is not None and (collector.output_dir / EVIDENCE_FILE).is_file():
            report.user_properties.append((_EVIDENCE_PROPERTY, str(collector.output_dir / EVIDENCE_FILE)))
            rule = (collector.output_dir / "diagnosis.txt").read_text(encoding="utf-8").split("]", 1)[0].lstrip("[")
            report.user_properties.append((_RULE_PROPERTY, rule))
        if not mutant.must_pass:
            state.killed.setdefault(mutant.name, _test_of(item.nodeid))
    elif report.passed and report.when == "call" and mutant is CONTROL and collector is not None:
        if item.config.getoption("gate_mutants_record"):
            saved = collector.evidence().save(collector.output_dir)
            report.user_properties.append((_EVIDENCE_PROPERTY, str(saved)))
    return report


def _record(state: _State, report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    name = properties.get(_MUTANT_PROPERTY)
    mutant = next((m for m in state.mutants if m.name == name), None)
    if mutant is None:
        return
    result = state.results.setdefault(
        mutant.name,
        MutantResult(mutant.name, mutant.side, mutant.operator, mutant.summary, expected_rule=mutant.expected_rule),
    )
    result.seconds += report.duration
    worker = str(properties.get(_WORKER_PROPERTY, ""))
    if worker and worker not in result.workers:
        result.workers.append(worker)
    test = _test_of(report.nodeid)
    if report.when == "call" and report.passed:
        result.passed += 1
        if _EVIDENCE_PROPERTY in properties:
            result.healthy[test] = str(properties[_EVIDENCE_PROPERTY])
    elif report.failed and report.when == "call":
        result.failed.append(test)
        result.rules.append(str(properties.get(_RULE_PROPERTY, "")))
        if not result.diagnosis:
            result.diagnosis = str(properties.get(_DIAGNOSIS_PROPERTY, ""))
            result.rule = str(properties.get(_RULE_PROPERTY, ""))
            result.evidence = str(properties.get(_EVIDENCE_PROPERTY, ""))
    elif report.failed:
        last = report.longreprtext.splitlines()[-1][:200] if report.longreprtext else ""
        result.errors.append(f"{test} ({report.when}): {last}")
    elif report.skipped and report.when == "setup":
        result.skipped += 1


class _Collector:
    """Registered in the controller (or the lone process) only: workers send their reports there."""

    def __init__(self, state: _State, report_path: Path | None) -> None:
        self.state, self.report_path = state, report_path

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        _record(self.state, report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.report_path is None:
            return
        results = [
            self.state.results.get(m.name) or MutantResult(m.name, m.side, m.operator, m.summary)
            for m in self.state.mutants
        ]
        payload: dict[str, Any] = {
            "seconds": time.monotonic() - self.state.started,
            "results": [
                {**asdict(r), "errors": [*r.errors, *r.misnamed], "verdict": r.verdict, "named": r.named}
                for r in results
            ],
        }
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        self.report_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
