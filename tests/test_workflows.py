"""The GitHub Actions workflows: actionlint finds nothing, and the gate's shape is what the README says.

actionlint (from the dev extra; see pyproject.toml for why that package) checks syntax, expressions,
`needs:`, action inputs and, with shellcheck, the `run:` scripts. The policy tests below check
what actionlint cannot know: that `gate` waits for every job, the matrix, the real-Redis job, the
staging inputs. Each test feeds a deliberately broken variant too, so a linter that passes
everything would not go unnoticed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ACTIONLINT_TIMEOUT_S = 60


def venv_tool(name: str) -> str | None:
    """The tool installed beside this Python (the venv's bin/), else one on PATH."""
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.is_file() else shutil.which(name)


@pytest.fixture(scope="module")
def actionlint() -> str:
    executable = venv_tool("actionlint")
    if executable is None:
        pytest.fail("actionlint is not installed: run `make venv` (or `pip install -e '.[dev]'`) to get it")
    return executable


def run_actionlint(actionlint: str, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Only the venv's shellcheck (or none) and no pyflakes, as in `make lint-workflows`: the
    # verdict must not depend on what else happens to be on PATH.
    shellcheck = Path(actionlint).parent / "shellcheck"
    command = [
        actionlint,
        "-no-color",
        f"-shellcheck={shellcheck if shellcheck.is_file() else ''}",
        "-pyflakes=",
        *[str(f) for f in files],
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=ACTIONLINT_TIMEOUT_S)


def load_workflow(path: Path) -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def copy_workflows(destination: Path) -> Path:
    """The real workflows in a throwaway repository, for actionlint runs on altered copies."""
    workflows = destination / ".github" / "workflows"
    shutil.copytree(WORKFLOWS, workflows)
    # actionlint resolves `uses: ./.github/workflows/...` only inside a project root, which it
    # recognises by its .git directory.
    (destination / ".git").mkdir()
    return workflows


# ---------------------------------------------------------------------------------------------
# actionlint
# ---------------------------------------------------------------------------------------------


def test_the_workflows_exist() -> None:
    assert {f.name for f in WORKFLOW_FILES} >= {"e2e.yml", "staging-gate.yml", "durations.yml"}, WORKFLOW_FILES


def test_actionlint_finds_no_problem_in_the_workflows(actionlint: str) -> None:
    result = run_actionlint(actionlint, WORKFLOW_FILES, cwd=REPO)

    assert result.returncode == 0, f"actionlint exit {result.returncode}:\n{result.stdout}{result.stderr}"


BROKEN_WORKFLOW = """\
name: broken
on:
  push:
    branch: main
jobs:
  test:
    runs-on: ubuntu-24.04
    strategy:
      matrix:
        browser: [chromium, firefox]
    steps:
      - uses: actions/checkout@v7
      - run: make e2e BROWSER=${{ matrix.browsers }}
  gate:
    needs: [test, lint]
    runs-on: ubuntu-24.04
    steps:
      - run: echo "$UNQUOTED" > $GITHUB_OUTPUT
"""


def test_actionlint_fails_on_a_broken_workflow(actionlint: str, tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(BROKEN_WORKFLOW)

    result = run_actionlint(actionlint, [broken], cwd=tmp_path)

    assert result.returncode == 1, f"actionlint accepted a broken workflow:\n{result.stdout}{result.stderr}"
    problems = [
        'unexpected key "branch"',
        'property "browsers" is not defined',
        'needs job "lint" which does not exist',
    ]
    if (Path(actionlint).parent / "shellcheck").is_file():
        problems.append("SC2086")  # the unquoted $GITHUB_OUTPUT: proves `run:` scripts reach shellcheck
    for problem in problems:
        assert problem in result.stdout, f"{problem!r} not reported:\n{result.stdout}"


def test_actionlint_fails_on_a_broken_copy_of_the_real_gate(actionlint: str, tmp_path: Path) -> None:
    workflows = copy_workflows(tmp_path)
    e2e = workflows / "e2e.yml"
    e2e.write_text(e2e.read_text().replace("needs: [e2e, full]", "needs: [e2e, full, lint]"))

    result = run_actionlint(actionlint, [e2e], cwd=tmp_path)

    assert result.returncode == 1, f"actionlint accepted a gate that needs a missing job:\n{result.stdout}"


def readme_deploy_example() -> str:
    """The YAML block that follows `<!-- deploy-example -->` in README.md."""
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- deploy-example -->\s*```yaml\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md has no ```yaml block after <!-- deploy-example -->"
    return match.group(1)


def test_readme_deploy_example_is_a_valid_caller_of_the_workflows(actionlint: str, tmp_path: Path) -> None:
    # actionlint resolves `uses: ./.github/workflows/...` against the files beside it and checks
    # the inputs passed, so the README's snippet is checked against the real workflows.
    workflows = copy_workflows(tmp_path)
    deploy = workflows / "deploy.yml"
    deploy.write_text(readme_deploy_example())

    result = run_actionlint(actionlint, [deploy], cwd=tmp_path)

    assert result.returncode == 0, f"the README's deploy example does not lint:\n{result.stdout}{result.stderr}"
    deploy.write_text(readme_deploy_example().replace("backend_url:", "backend-url:"))
    assert run_actionlint(actionlint, [deploy], cwd=tmp_path).returncode == 1, "a wrong input name was accepted"


# ---------------------------------------------------------------------------------------------
# What actionlint does not know: the policy
# ---------------------------------------------------------------------------------------------


def gate_problems(workflow: dict[str, Any]) -> list[str]:
    """Why `gate` would not be a safe thing for a deploy to need (empty list: it is)."""
    jobs = workflow["jobs"]
    gate = jobs.get("gate")
    if gate is None:
        return ["no job named gate"]
    needs = gate.get("needs", [])
    needs = {needs} if isinstance(needs, str) else set(needs)
    problems = []
    if needs != set(jobs) - {"gate"}:
        problems.append(f"gate needs {sorted(needs)}, not every other job {sorted(set(jobs) - {'gate'})}")
    if gate.get("if") != "always()":
        problems.append(f"gate has if: {gate.get('if')!r}; without always() a failed job skips the gate, which passes")
    checks = [step for step in gate.get("steps", []) if "exit 1" in step.get("run", "")]
    if not checks or "success" not in checks[-1]["run"]:
        problems.append(f"gate's steps do not fail unless every job succeeded: {gate.get('steps')!r}")
    elif checks[-1].get("if") != "always()":
        # Without it, a failed merge step before it would skip the check (the job fails anyway,
        # but the log would no longer say which job did not succeed).
        problems.append("gate's job check does not run always()")
    return problems


def test_gate_waits_for_every_job_and_fails_unless_all_succeeded() -> None:
    assert gate_problems(load_workflow(WORKFLOWS / "e2e.yml")) == []


def test_gate_policy_catches_a_job_left_out_and_a_missing_always() -> None:
    workflow = load_workflow(WORKFLOWS / "e2e.yml")
    workflow["jobs"]["lint"] = {"runs-on": "ubuntu-24.04", "steps": [{"run": "true"}]}
    del workflow["jobs"]["gate"]["if"]

    problems = gate_problems(workflow)

    assert len(problems) == 2, problems


def test_e2e_matrix_covers_every_browser_and_supported_python() -> None:
    job = load_workflow(WORKFLOWS / "e2e.yml")["jobs"]["e2e"]
    matrix = job["strategy"]["matrix"]

    assert set(matrix["browser"]) == {"chromium", "firefox", "webkit"}, matrix
    assert set(matrix["python"]) == {"3.11", "3.12", "3.13"}, matrix
    assert job["strategy"].get("fail-fast") is False, "one failing cell must not cancel the others' evidence"
    run_steps = " ".join(step.get("run", "") for step in job["steps"])
    assert "playwright install --with-deps" in run_steps, run_steps
    assert "JUNIT_DIR=" in run_steps, run_steps


def shard_problems(workflow: dict[str, Any]) -> list[str]:
    """Why the e2e matrix would not run the whole suite across its shards (empty list: it does)."""
    job = workflow["jobs"]["e2e"]
    count = int(workflow.get("env", {}).get("SHARDS", 0))
    shards = job["strategy"]["matrix"].get("shard", [])
    problems = []
    if count < 1 or sorted(shards) != list(range(1, count + 1)):
        problems.append(f"matrix shard {shards} is not 1..SHARDS={count}: a group would never run")
    run_steps = " ".join(step.get("run", "") for step in job["steps"])
    if (
        'SHARD="$SHARD_INDEX/$SHARDS"' not in run_steps
        or job.get("env", {}).get("SHARD_INDEX") != "${{ matrix.shard }}"
    ):
        problems.append(f"the e2e job does not pass its shard to make e2e: {run_steps!r}")
    names = [
        str(step["with"]["name"])
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    clashing = [name for name in names if "matrix.shard" not in name]
    if clashing:
        problems.append(f"artifact names without the shard would clash between shards: {clashing}")
    return problems


def test_e2e_matrix_runs_every_shard_and_passes_it_to_make() -> None:
    assert shard_problems(load_workflow(WORKFLOWS / "e2e.yml")) == []


def test_shard_policy_catches_a_missing_shard_and_clashing_artifacts() -> None:
    workflow = load_workflow(WORKFLOWS / "e2e.yml")
    workflow["jobs"]["e2e"]["strategy"]["matrix"]["shard"] = [1]
    workflow["env"]["SHARDS"] = 2
    for step in workflow["jobs"]["e2e"]["steps"]:
        if "with" in step and "name" in step["with"]:
            step["with"]["name"] = str(step["with"]["name"]).replace("-shard${{ matrix.shard }}", "")

    problems = shard_problems(workflow)

    assert len(problems) == 2, problems


def test_gate_merges_every_jobs_junit_and_the_run_reports() -> None:
    gate = load_workflow(WORKFLOWS / "e2e.yml")["jobs"]["gate"]
    downloads = [
        s["with"]["pattern"] for s in gate["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@")
    ]
    run_steps = " ".join(step.get("run", "") for step in gate["steps"])

    assert {"junit-*", "sse-report-*"} <= set(downloads), downloads
    assert "scripts/shards.py merge" in run_steps and "--report-dir" in run_steps, run_steps


def test_durations_are_refreshed_by_a_scheduled_full_run_and_uploaded() -> None:
    workflow = load_workflow(WORKFLOWS / "durations.yml")
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    run_steps = " ".join(step.get("run", "") for step in steps)
    uploads = [
        path
        for s in steps
        if str(s.get("uses", "")).startswith("actions/upload-artifact@")
        for path in str(s["with"]["path"]).split()
    ]
    durations_target = re.search(r"^durations:.*?(?=^\S)", (REPO / "Makefile").read_text(), re.DOTALL | re.MULTILINE)

    assert workflow["on"]["schedule"][0]["cron"], workflow["on"]
    assert "make durations" in run_steps, run_steps
    assert durations_target and "--store-durations" in durations_target.group(0), durations_target
    assert "-n 0" in durations_target.group(0), "under xdist every worker would write the durations file"
    assert ".test_durations" in uploads and "tests/.test_durations" in uploads, uploads
    assert durations_target.group(0).count("--store-durations") == 2, "both files are re-timed"


def test_the_kill_order_is_refreshed_for_both_apps_by_the_scheduled_run_and_uploaded() -> None:
    """Fails if: nothing re-records the mutants' killing tests (the order goes stale and the check slow)."""
    jobs = load_workflow(WORKFLOWS / "durations.yml")["jobs"]
    steps = [step for job in jobs.values() for step in job["steps"]]
    runs = [step.get("run", "") for step in steps]
    uploads = [s["with"]["path"] for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]

    assert any("MUTANTS_ARGS=--write-kill-order" in run for run in runs), runs
    assert any("--app production_shape --write-kill-order" in run for run in runs), runs
    assert "e2e/mutants/kill_order.json" in uploads, uploads


def test_a_job_runs_the_suite_on_a_real_redis_service_and_cannot_skip_it() -> None:
    jobs = load_workflow(WORKFLOWS / "e2e.yml")["jobs"]
    with_redis = {name: job for name, job in jobs.items() if "redis" in job.get("services", {})}

    assert with_redis, f"no job with a redis service container among {sorted(jobs)}"
    for name, job in with_redis.items():
        run_steps = " ".join(step.get("run", "") for step in job["steps"])
        assert "make test REDIS_REQUIRED=1" in run_steps, f"{name}: the real-Redis pass could be skipped: {run_steps!r}"


def test_failed_jobs_upload_test_results() -> None:
    for path in WORKFLOW_FILES:
        for name, job in load_workflow(path)["jobs"].items():
            if name == "gate":
                continue
            uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
            on_failure = [s for s in uploads if s.get("if") == "failure()" and s["with"]["path"] == "test-results/"]
            assert on_failure, f"{path.name}: job {name} does not upload test-results/ when it fails: {uploads}"


def test_staging_gate_takes_backend_url_by_hand_and_from_other_workflows() -> None:
    workflow = load_workflow(WORKFLOWS / "staging-gate.yml")

    for trigger in ("workflow_dispatch", "workflow_call"):
        backend_url = workflow["on"][trigger]["inputs"]["backend_url"]
        assert backend_url["required"] is True and backend_url["type"] == "string", (trigger, backend_url)
    run_steps = " ".join(step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"])
    assert "--backend-url=$BACKEND_URL" in run_steps, run_steps


# ---------------------------------------------------------------------------------------------
# The run report and the SSE timelines (issue 15)
# ---------------------------------------------------------------------------------------------

REPORT_PATHS = ("test-results/**/report.html", "test-results/**/timeline.html")


def report_problems(workflow: dict[str, Any]) -> list[str]:
    """Every job that runs the suite uploads the run report and the timelines whatever the outcome,
    and writes a job summary from them that links that upload."""
    problems = []
    for name, job in workflow["jobs"].items():
        steps = job.get("steps", [])
        runs_suite = any(re.search(r"\bmake (e2e|test)\b", step.get("run", "")) for step in steps)
        if not runs_suite:
            continue
        uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
        report = [s for s in uploads if all(p in str(s.get("with", {}).get("path", "")) for p in REPORT_PATHS)]
        if not report or report[0].get("if") != "success() || failure()" or not report[0].get("id"):
            problems.append(f"{name}: no upload (with an id, if: success() || failure()) of {REPORT_PATHS}")
            continue
        output = f"steps.{report[0]['id']}.outputs.artifact-url"
        summaries = [
            s for s in steps
            if "GITHUB_STEP_SUMMARY" in s.get("run", "") and "harness.report summary" in s.get("run", "")
            and output in str(s.get("env", {})) and s.get("if") == "success() || failure()"
        ]  # fmt: skip
        if not summaries:
            problems.append(f"{name}: no job summary from `python -m harness.report summary` linking {output}")
    return problems


def test_every_suite_job_uploads_the_report_and_timelines_and_summarises_them() -> None:
    for path in WORKFLOW_FILES:
        assert report_problems(load_workflow(path)) == [], path.name


def test_report_policy_catches_a_failure_only_upload_and_a_missing_summary() -> None:
    workflow = load_workflow(WORKFLOWS / "e2e.yml")
    e2e_steps = workflow["jobs"]["e2e"]["steps"]
    next(s for s in e2e_steps if s.get("id") == "sse-report")["if"] = "failure()"
    full_steps = workflow["jobs"]["full"]["steps"]
    full_steps.remove(next(s for s in full_steps if "GITHUB_STEP_SUMMARY" in s.get("run", "")))

    problems = report_problems(workflow)

    assert len(problems) == 2, problems
