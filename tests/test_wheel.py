"""The gate as a user gets it: a wheel, installed (not editable) into a fresh venv, used from a
repository of their own, by the README's "Use the gate in your repository" commands, verbatim.

The README blocks are the single source: the commands, `pyproject.toml`, `conftest.py` and the
scenario are read from it, so the documentation cannot drift from what is tested. The wheel is
built from a copy of the tracked files (what a clone has: no `build/` left over from an earlier
build, no `.venv`), the user's folder is outside the checkout, and nothing points back into it:
no PYTHONPATH, no editable install, cwd elsewhere. The fresh venv gets its dependencies from the
package index (pip's cache makes that quick), which is the only network it needs.

Catches: an asset missing from the wheel (stub frontend, recorder script: "frontend directory ...
has no index.html"), an import of something outside the package (the repo's `e2e/` or `tests/`),
an entry point that does not register the plugin, a README recipe that does not work as written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# Building, installing with dependencies and two browser runs: about a minute on a quiet 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO_ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_BUG_CLIENT = REPO_ROOT / "e2e" / "mutants" / "clients" / "original_onmessage.js"
SECTION = "## Use the gate in your repository"
COMMAND_TIMEOUT_S = 600.0


def readme_blocks() -> dict[str, str]:
    """The fenced blocks of the README section, by their `<!-- use-the-gate: NAME -->` marker."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in readme, f"README.md has no {SECTION!r} section"
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = dict(re.findall(r"<!-- use-the-gate: (\S+) -->\n```\w*\n(.*?)```", section, flags=re.S))
    assert set(blocks) == {"commands", "pyproject.toml", "conftest.py", "e2e/test_generate.py"}, sorted(blocks)
    return blocks


def copy_tracked_tree(destination: Path) -> Path:
    """The tracked (and new, not ignored) files of the checkout, as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the working tree, not yet committed
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


def user_environment(gate_checkout: Path) -> dict[str, str]:
    """The outer environment minus whatever could point back at this checkout or this pytest run."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV", "SSE_GATE_", "COV_"))
    }
    environment["GATE_CHECKOUT"] = str(gate_checkout)
    environment["COLUMNS"] = "400"  # the short summary line is cut to the terminal's width
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return environment


def run(command: str, cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    print(f"{time.monotonic() - started:6.1f} s  exit {result.returncode}  {command}")  # shown on failure
    return result


def failure_report_lines(stdout: str, test_name: str) -> list[str]:
    """The lines of one test's failure section, after its `____ test_name ____` title."""
    title = re.search(rf"^_+ {re.escape(test_name)}(\[\w+\])? _+$", stdout, flags=re.M)  # [chromium]
    assert title is not None, stdout
    return [line for line in stdout[title.end() :].splitlines() if line.strip()]


def test_the_readme_recipe_works_from_an_installed_wheel(tmp_path: Path) -> None:
    blocks = readme_blocks()
    commands = [line for line in blocks["commands"].splitlines() if line.strip()]
    assert len(commands) == 6, commands
    make_venv, build_wheel, install, ensure_browser, happy_path, with_client = commands

    gate_checkout = copy_tracked_tree(tmp_path / "gate-checkout")
    user_repo = tmp_path / "user-repo"
    assert not user_repo.is_relative_to(REPO_ROOT)
    for name in ("pyproject.toml", "conftest.py", "e2e/test_generate.py"):
        (user_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (user_repo / name).write_text(blocks[name], encoding="utf-8")
    (user_repo / "src" / "lib").mkdir(parents=True)
    shutil.copy(PRODUCTION_BUG_CLIENT, user_repo / "src" / "lib" / "draft-stream.js")
    environment = user_environment(gate_checkout)

    for command in (make_venv, build_wheel, install, ensure_browser):
        result = run(command, user_repo, environment)
        assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}\n{result.stderr}"

    # Installed as a wheel, not editable, and imported from the venv, not from the checkout.
    where = run(".venv/bin/python -c 'import harness, drafts_api; print(harness.__file__)'", user_repo, environment)
    assert where.returncode == 0, where.stderr
    assert ".venv" in where.stdout and str(gate_checkout) not in where.stdout, where.stdout
    installed = run(".venv/bin/pip show -f sse-progress-gate", user_repo, environment).stdout
    assert "Editable project location" not in installed, installed
    assert "harness/servers/stub_frontend/index.html" in installed, installed
    assert "harness/recording/eventsource_recorder.js" in installed, installed

    passed = run(happy_path, user_repo, environment)
    assert passed.returncode == 0, f"`{happy_path}` failed:\n{passed.stdout}\n{passed.stderr}"
    assert "1 passed" in passed.stdout, passed.stdout
    assert "sse-gate: frontend: " in passed.stdout and ".venv" in passed.stdout, passed.stdout

    failed = run(with_client, user_repo, environment)
    assert failed.returncode == 1, f"`{with_client}` did not fail:\n{failed.stdout}\n{failed.stderr}"
    first_line = failure_report_lines(failed.stdout, "test_progress_while_it_runs_then_the_editor")[0]
    assert first_line.startswith("[sse-gate] ") and "named-event mismatch" in first_line, first_line
    assert re.search(r"^FAILED e2e/test_generate\.py::\S+ - \[sse-gate\] .*named-event mismatch", failed.stdout, re.M)
