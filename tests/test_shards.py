"""CI shards (scripts/shards.py, pytest-split): the split of the real suite, exit 5, the JUnit merge.

The split is checked on the e2e suite as CI runs it (same markers, the committed `.test_durations`,
the shard count of the workflow), by pytest's own collection: every group non-empty, no test in two
groups, none left out. Broken variants each test catches: `duration_based_chunks` (pytest-split's
default, which can leave a group empty), a shard count above the number of tests, exit 5 passed on
as a failure, a merge that drops a file or a failure, a merge that passes on zero tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from harness.report import ResultEntry, record_result

REPO = Path(__file__).resolve().parent.parent
SHARDS_SCRIPT = REPO / "scripts" / "shards.py"
DURATIONS = REPO / ".test_durations"
E2E_SELECTION = ["e2e", "-m", "not slow", "--browser", "chromium"]
TIMEOUT_S = 120
# The sessions these tests start, some in a throwaway project, turn off the plugins our addopts does.
pytestmark = pytest.mark.usefixtures("child_sessions_skip_our_plugins")


def workflow_shard_count() -> int:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "e2e.yml").read_text())
    return int(workflow["env"]["SHARDS"])


def collected(*args: str, cwd: Path = REPO) -> list[str]:
    """Node ids pytest collects with `args` (a subprocess, as CI's shard would)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode in (0, 5), f"collection failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    return [line for line in result.stdout.splitlines() if "::" in line and not line.startswith(" ")]


def split_args(index: int, count: int, algorithm: str = "least_duration") -> list[str]:
    return [
        f"--splits={count}",
        f"--group={index}",
        f"--splitting-algorithm={algorithm}",
        f"--durations-path={DURATIONS}",
    ]


def test_the_durations_file_is_committed_and_times_the_current_suite() -> None:
    durations = json.loads(DURATIONS.read_text())
    suite = set(collected(*E2E_SELECTION))

    timed = suite & set(durations)
    # Not every test must be timed (a new or renamed one gets the average, and the weekly job
    # re-times them), but a file that times none of the suite splits blind: `make durations`.
    assert timed, f"none of the {len(suite)} tests is in {DURATIONS.name}: run `make durations` and commit it"
    assert all(isinstance(value, float) and value >= 0 for value in durations.values())


def test_every_shard_of_the_workflow_is_non_empty_and_together_they_run_the_suite_once() -> None:
    count = workflow_shard_count()
    suite = collected(*E2E_SELECTION)
    groups = {index: collected(*E2E_SELECTION, *split_args(index, count)) for index in range(1, count + 1)}

    assert all(groups.values()), {index: len(tests) for index, tests in groups.items()}
    together = [test for tests in groups.values() for test in tests]
    assert len(together) == len(set(together)), "a test runs in two shards"
    assert set(together) == set(suite), f"left out: {sorted(set(suite) - set(together))}"


def write_project(root: Path, tests: int, failing: int = 0) -> Path:
    """A throwaway pytest project with `tests` tests, the first `failing` of them failing."""
    lines = [f"def test_{n}():\n    assert {n >= failing}\n" for n in range(tests)]
    (root / "test_small.py").write_text("\n".join(lines))
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return root


def run_shard(root: Path, shard: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(SHARDS_SCRIPT),
            "run",
            "--shard",
            shard,
            "--durations",
            str(root / "none.json"),
            "--",
            "-q",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_least_duration_leaves_no_group_empty_where_the_default_algorithm_does(tmp_path: Path) -> None:
    # Three tests, one much longer than the others: duration_based_chunks puts the long one alone
    # and the short ones together, and with three groups one of them ends up empty.
    root = write_project(tmp_path, tests=3)
    durations = tmp_path / "durations.json"
    durations.write_text(
        json.dumps({"test_small.py::test_0": 10.0, "test_small.py::test_1": 0.1, "test_small.py::test_2": 0.1})
    )

    def sizes(algorithm: str) -> list[int]:
        return [
            len(
                collected(
                    "--splits=3",
                    f"--group={i}",
                    f"--splitting-algorithm={algorithm}",
                    f"--durations-path={durations}",
                    cwd=root,
                )
            )
            for i in (1, 2, 3)
        ]

    assert sizes("least_duration") == [1, 1, 1]
    assert 0 in sizes("duration_based_chunks"), "the broken variant no longer shows the empty group"


def test_an_empty_shard_passes_and_says_why_a_failing_one_fails(tmp_path: Path) -> None:
    root = write_project(tmp_path, tests=1)

    empty = run_shard(root, "2/2")
    assert empty.returncode == 0, empty.stdout + empty.stderr
    assert "shard 2/2 selected no test (pytest exit 5)" in empty.stdout, empty.stdout

    full = run_shard(root, "1/2")
    assert full.returncode == 0 and "1 passed" in full.stdout, full.stdout

    write_project(tmp_path, tests=2, failing=2)
    failing = run_shard(root, "1/2")
    assert failing.returncode == 1, failing.stdout


@pytest.mark.parametrize("shard", ["3", "0/2", "3/2", "a/b"])
def test_a_malformed_shard_is_a_usage_error_that_shows_the_value(tmp_path: Path, shard: str) -> None:
    result = run_shard(write_project(tmp_path, tests=1), shard)

    assert result.returncode == 2, result.stdout + result.stderr
    assert repr(shard) in result.stderr, result.stderr


def junit_file(path: Path, cases: dict[str, str]) -> Path:
    """pytest-shaped JUnit XML: `cases` maps a test name to passed|failed|skipped."""
    outcome = {
        "passed": "",
        "failed": '<failure message="assert False">assert False</failure>',
        "skipped": '<skipped message="skip" />',
    }
    body = "".join(
        f'<testcase classname="e2e.test_x" name="{name}" time="0.5">{outcome[state]}</testcase>'
        for name, state in cases.items()
    )
    failures = sum(state == "failed" for state in cases.values())
    skipped = sum(state == "skipped" for state in cases.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" '
        f'failures="{failures}" skipped="{skipped}" tests="{len(cases)}" time="1.0">{body}</testsuite></testsuites>'
    )
    return path


def merge(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SHARDS_SCRIPT), "merge", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_merging_two_shards_keeps_every_case_and_the_failure_with_its_shard(tmp_path: Path) -> None:
    junit_file(tmp_path / "in" / "junit-chromium-shard1" / "e2e.xml", {"test_a": "passed", "test_b": "failed"})
    junit_file(tmp_path / "in" / "junit-chromium-shard2" / "e2e.xml", {"test_c": "passed", "test_d": "skipped"})
    output = tmp_path / "merged.xml"

    result = merge("--output", output, tmp_path / "in")

    assert result.returncode == 1, "a failed test in a shard must fail the merge"
    assert "4 tests from 2 file(s): 1 failed, 0 errors, 1 skipped" in result.stdout, result.stdout
    merged = JUnitXml.fromfile(str(output))
    suites = {suite.name: [case.name for case in suite] for suite in merged}
    assert suites == {
        "junit-chromium-shard1/e2e": ["test_a", "test_b"],
        "junit-chromium-shard2/e2e": ["test_c", "test_d"],
    }
    assert (merged.tests, merged.failures, merged.skipped) == (4, 1, 1)


def test_merging_passing_shards_passes(tmp_path: Path) -> None:
    first = junit_file(tmp_path / "one.xml", {"test_a": "passed"})
    second = junit_file(tmp_path / "two.xml", {"test_b": "passed", "test_c": "skipped"})

    result = merge("--output", tmp_path / "merged.xml", first, second)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 tests from 2 file(s): 0 failed, 0 errors, 1 skipped" in result.stdout


def test_a_merge_with_no_test_or_no_file_or_a_bad_file_fails(tmp_path: Path) -> None:
    empty = junit_file(tmp_path / "empty.xml", {})
    no_tests = merge("--output", tmp_path / "merged.xml", empty)
    assert no_tests.returncode == 1 and "ran no test at all" in no_tests.stderr, no_tests.stderr

    (tmp_path / "nothing").mkdir()
    no_files = merge("--output", tmp_path / "merged.xml", tmp_path / "nothing")
    assert no_files.returncode == 1 and "no JUnit XML file" in no_files.stderr, no_files.stderr

    bad = tmp_path / "bad.xml"
    bad.write_text("not xml at all")
    unreadable = merge("--output", tmp_path / "merged.xml", bad)
    assert unreadable.returncode == 1 and "bad.xml is not a JUnit XML file" in unreadable.stderr, unreadable.stderr


def test_the_merge_also_merges_the_shards_run_reports(tmp_path: Path) -> None:
    """Fails if: the gate's merge leaves the run reports unmerged, or a missing report folder passes."""
    junit = junit_file(tmp_path / "one.xml", {"test_a": "passed"})
    record_result(tmp_path / "report", ResultEntry("e2e/t.py::test_a", "passed", "call", 0.5, worker="gw0"))

    result = merge("--output", tmp_path / "merged.xml", "--report-dir", tmp_path / "report", junit)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "report.html").is_file(), result.stdout + result.stderr

    missing = merge("--output", tmp_path / "merged.xml", "--report-dir", tmp_path / "absent", junit)
    assert missing.returncode == 1 and "nothing to merge" in missing.stdout, missing.stdout


def _make_dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    """`make -n`, as a fresh make (not a sub-make of `make test`, which would print directories)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    command = ["make", "--no-print-directory", "-n", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)


def test_the_shard_target_runs_pytest_split_by_the_committed_durations() -> None:
    result = _make_dry_run("e2e", "SHARD=2/3")
    command = result.stdout.strip().splitlines()[-1]

    assert "scripts/shards.py run --shard '2/3' --durations .test_durations --" in command, command
    assert "-n 2" in command, "xdist must run inside each shard"
    unsharded = _make_dry_run("e2e")
    assert "shards.py" not in unsharded.stdout, unsharded.stdout
