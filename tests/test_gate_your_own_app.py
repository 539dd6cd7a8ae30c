"""README, "Gate your own app": the walk-through works as written, in a repository of its own."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _block(marker: str) -> str:
    """The fenced code block that follows `<!-- gate-your-own-app:MARKER -->` in the README."""
    found = re.search(rf"<!-- gate-your-own-app:{marker} -->\n```\w*\n(.*?)\n```", README.read_text(), re.S)
    assert found, f"README has no code block after <!-- gate-your-own-app:{marker} -->"
    return found[1]


def test_documented_command_is_the_one_make_test_runs() -> None:
    """Fails if: the README's command drifts from the Makefile's second-app pass (which runs it)."""
    documented = _block("command").replace("\\\n", " ").split()
    assert documented[:2] == ["pytest", "e2e"], documented
    makefile = ROOT / "Makefile"
    match = re.search(r"^PRODUCTION_SHAPE_ARGS = (.*?)\n(?!\t)", makefile.read_text(), re.M | re.S)
    assert match, "Makefile has no PRODUCTION_SHAPE_ARGS"
    assert documented[2:] == match[1].replace("\\\n", " ").split()


def test_documented_ini_and_scenario_gate_the_example_app(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails if: the walk-through's settings or scenario do not run against examples/production_shape
    from a repository of a user's (its own folder, its own pyproject.toml, the plugin as installed)."""
    shutil.copytree(
        ROOT / "examples" / "production_shape" / "frontend",
        pytester.path / "examples" / "production_shape" / "frontend",
    )
    pytester.makepyprojecttoml(_block("ini"))
    pytester.makepyfile(test_walkthrough=_block("scenario"))
    # The user's repository holds the app; here it lives in ours, so it is importable from the root.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines(
        ["*sse-gate: redis: fakeredis; backend: examples.production_shape.gate:create_gate_app*"]
    )
    result.assert_outcomes(passed=1)


def test_the_second_app_known_findings_fail_with_a_first_line_naming_the_defect(tmp_path: Path) -> None:
    """Its known findings are asserted as expected failures; run as plain failures (`--runxfail`), the
    gate's first line must name each defect, not a symptom (a payload without text, a lost connection).

    Fails if: the diagnosis of an unknown task that reads as `pending`, or of a task streamed under
    another campaign, falls to another rule or to the fallback."""
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^PRODUCTION_SHAPE_ARGS = (.*?)\n(?!\t)", makefile, re.M | re.S)
    assert match, "Makefile has no PRODUCTION_SHAPE_ARGS"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "e2e/test_failures.py",
        "-k",
        "unknown_task or another_campaign",
        "--runxfail",
        "-n",
        "0",
        "-p",
        "no:cacheprovider",
        f"--output={tmp_path / 'out'}",
        *match[1].replace("\\\n", " ").split(),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("[sse-gate] ")]
    assert result.returncode == 1 and len(lines) == 2, result.stdout[-3000:]
    assert any("which this test never created" in line and "reads as `pending`" in line for line in lines), lines
    assert any("does not check that the task belongs to the campaign" in line for line in lines), lines


def test_the_mutant_check_points_the_gate_at_the_second_app_as_make_test_does() -> None:
    """Fails if: `e2e/mutants/apps.py` drifts from the Makefile's second-app options (the mutant check
    would then mutate another app than `make e2e-production-shape` gates)."""
    from e2e.mutants.apps import mutant_app

    match = re.search(r"^PRODUCTION_SHAPE_ARGS = (.*?)\n(?!\t)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert match, "Makefile has no PRODUCTION_SHAPE_ARGS"
    words = match[1].replace("\\\n", " ").split()
    makefile = {words[i]: words[i + 1] for i in range(0, len(words), 2)}
    options = dict(arg.split("=", 1) for arg in mutant_app("production_shape").pytest_args)
    options["--frontend-dir"] = str(Path(options["--frontend-dir"]).relative_to(ROOT))
    assert options == makefile
