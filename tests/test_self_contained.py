"""The repository is self-contained: nothing the code, tests, Makefile or CI read lies outside it.

A test that reads a file from a machine-specific absolute path (or from `../shared`) passes on the
machine it was written on and fails, or silently skips, everywhere else (GitHub's runners, a
user's clone). This scans every tracked code and configuration file for such paths; the scan is
itself tested against a sample of each forbidden kind, so it cannot pass by matching nothing.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# (what, pattern). Machine-specific folders, the team's reference folder beside the checkout, and a
# browser binary by path (the browser comes from harness.browsers, which finds one on any machine).
FORBIDDEN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("the shared reference folder outside the repository", re.compile(r"\.\./shared\b|\bshared/reference\b")),
    ("a machine-specific absolute path", re.compile(r"(?<![\w.~-])/(?:work|home|Users|root|tmp|mnt)/")),
    ("a browser binary by absolute path", re.compile(r"/usr/bin/(?:chromium|chrome|google-chrome)")),
)

# Data and prose, not code: recorded evidence holds the tracebacks of the machine it was recorded
# on, and Markdown may say where a vendored file came from (tests/vectors/PROVENANCE.md).
NOT_SCANNED = re.compile(r"^tests/evidence_samples/|\.md$")

# Files allowed one kind of path, each with the reason.
ALLOWED: dict[str, set[str]] = {
    # Fakes a machine for harness.browsers (monkeypatched lookups): the paths are data, never opened.
    "tests/test_browsers.py": {"a browser binary by absolute path"},
    # This file spells out the patterns it forbids.
    "tests/test_self_contained.py": {what for what, _ in FORBIDDEN},
}


def violations(relative_path: str, text: str) -> list[str]:
    allowed = ALLOWED.get(relative_path, set())
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in FORBIDDEN:
            if what not in allowed and pattern.search(line):
                found.append(f"{relative_path}:{number}: {what}: {line.strip()}")
    return found


def tracked_files() -> list[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.fail(f"cannot list the tracked files of {REPO_ROOT} with git: {error}")
    return [name for name in listed.split("\0") if name]


def test_no_tracked_file_reads_outside_the_repository() -> None:
    files = [name for name in tracked_files() if not NOT_SCANNED.search(name)]
    assert len(files) > 50, f"only {len(files)} files scanned: is {REPO_ROOT} the checkout?"
    found = []
    for name in files:
        path = REPO_ROOT / name
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file holds no path we could read from
        found.extend(violations(name, text))
    assert found == [], "paths outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        'VECTORS = Path("/work/shared/reference/sse-parsing-vectors.json")',
        "see ../shared/reference/notes.md",
        'open("/home/me/vectors.json")',
        '{"executable_path": "/usr/bin/chromium"}',
        "cp /tmp/build/x.whl dist/",
    ],
    # Ids without the paths: tests/.test_durations keeps every test id, and the scan reads it.
    ids=["shared-reference-absolute", "shared-reference-relative", "home", "browser-binary", "tmp"],
)
def test_the_scan_catches_each_kind(line: str) -> None:
    assert violations("tests/test_example.py", line), line


@pytest.mark.parametrize(
    "line",
    [
        "SHELL := /bin/bash",
        "#!/usr/bin/env bash",
        'PROC = Path("/proc")',
        'VECTORS = Path(__file__).with_name("vectors") / "sse-parsing-vectors.json"',
        "pytest --output test-results/real-redis",
    ],
)
def test_the_scan_lets_ordinary_paths_through(line: str) -> None:
    assert violations("tests/test_example.py", line) == [], line


def test_the_parsing_vectors_are_vendored() -> None:
    vectors = REPO_ROOT / "tests" / "vectors"
    assert (vectors / "sse-parsing-vectors.json").is_file()
    assert "web-platform-tests" in (vectors / "PROVENANCE.md").read_text(encoding="utf-8")
