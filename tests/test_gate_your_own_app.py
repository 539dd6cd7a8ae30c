"""README, "Gate your own app": the walk-through works as written, in a repository of its own."""

from __future__ import annotations

import re
import shutil
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
