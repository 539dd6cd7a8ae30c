"""The mutant catalogue and runner, without a browser: do the mutants still apply, does the table tell the truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafts_api.settings import Settings
from e2e.mutants.__main__ import CONTROL, RunResult, format_table, read_junit
from e2e.mutants.backends import BACKEND_MUTANTS
from e2e.mutants.catalogue import Mutant, all_mutants
from e2e.mutants.clients import CLIENT_MUTANTS, PRODUCTION_CLIENT, ClientMutant, MutantDrift
from harness.scripting import ScriptedGenerator
from harness.state import FakeRedisProvider


def test_catalogue_has_at_least_twelve_named_mutants_on_both_sides(tmp_path: Path) -> None:
    mutants = all_mutants(tmp_path)
    names = [mutant.name for mutant in mutants]
    assert len(names) == len(set(names)) >= 12
    assert {mutant.side for mutant in mutants} == {"client", "backend"}
    assert "original_onmessage" in names


@pytest.mark.parametrize("mutant", CLIENT_MUTANTS, ids=lambda m: m.name)
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


@pytest.mark.parametrize("name", sorted(BACKEND_MUTANTS))
def test_every_backend_mutant_builds_an_app_from_the_harness_parts(name: str) -> None:
    provider = FakeRedisProvider()
    app = BACKEND_MUTANTS[name](
        settings=Settings(), generator=ScriptedGenerator(), redis_factory=provider.async_client, runner=None
    )
    assert callable(app)


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
  <testcase classname="e2e.test_a" name="test_ok[chromium]" time="1.0"/>
  <testcase classname="e2e.test_a" name="test_flow[chromium]" time="1.0">
    <failure message="[sse-gate] backend sent named events [progress] | AssertionError: Locator">...</failure>
  </testcase>
  <testcase classname="e2e.test_a" name="test_other[chromium]" time="1.0">
    <failure message="AssertionError: plain">...</failure>
  </testcase>
</testsuite></testsuites>
"""


def test_junit_gives_failed_tests_and_the_first_diagnosis(tmp_path: Path) -> None:
    report = tmp_path / "run.xml"
    report.write_text(JUNIT)
    passed, failed, diagnosis, errors = read_junit(report)
    assert passed == 1
    assert failed == ("test_flow[chromium]", "test_other[chromium]")
    assert diagnosis == "backend sent named events [progress]"
    assert errors == ()


def test_verdicts_a_mutant_without_failures_survived_and_a_failing_control_fails() -> None:
    mutant = Mutant("m", "client", (), "summary")
    assert RunResult(mutant, 0, (), "", 1.0).verdict == "SURVIVED"
    assert RunResult(mutant, 1, ("test_x",), "why", 1.0).verdict == "killed"
    assert RunResult(mutant, 4, (), "", 1.0).verdict.startswith("ERROR")
    assert RunResult(CONTROL, 1, ("test_x",), "", 1.0).verdict == "FAILED"
    table = format_table([RunResult(CONTROL, 0, (), "", 1.0), RunResult(mutant, 1, ("test_x[chromium]",), "why", 1.0)])
    assert "killed" in table and "test_x" in table and "why" in table
