"""The production bug as a failing run, for the README's screenshot and the timeline's browser test.

A scripted generation played to the end (three progress messages, each waited for on the wire, then
success) against a given SSE client: with the production client as it shipped (`onmessage` only),
every `progress` is sent and none reaches a listener, the stream ends, and the page says
"Connection lost". The test then fails on the redirect to the editor.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

PRODUCTION_BUG_SCENARIO: Final = """
from playwright.sync_api import expect
from harness.pages import EDITOR_URL, NewDraftPage
from harness.waiting import wait_until

PHASES = ("Analyzing the campaign brief...", "Outlining 3 key points...", "Writing the draft...")


def test_production_bug(gate_page, gate_scripted, gate_evidence):
    new_draft = NewDraftPage(gate_page).open().fill()
    new_draft.generate()
    run = gate_scripted.next_run()
    for message in PHASES:
        run.progress(message)
        # Waited for on the wire, not on the page: the page under test may never show it.
        wait_until(
            lambda: [f.data or "" for s in gate_evidence.wire_streams() for f in s.events],
            lambda sent: any(message in data for data in sent),
            what=f"the backend sending {message!r}",
        )
    run.succeed(title="Spring launch")
    expect(gate_page).to_have_url(EDITOR_URL, timeout=3000)
"""


def run_production_bug(sse_client: Path, output: Path, *, timeout_s: float = 120.0) -> Path:
    """Run the scenario against `sse_client` with `--output output`; return the failed test's folder."""
    with tempfile.TemporaryDirectory(prefix="sse-gate-demo-") as work:
        (Path(work) / "test_production_bug.py").write_text(PRODUCTION_BUG_SCENARIO, encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "pytest",
            "test_production_bug.py",
            "-p",
            "harness.plugin",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--sse-client={sse_client.resolve()}",
            f"--output={output.resolve()}",
            "--tracing=retain-on-failure",
        ]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=timeout_s, check=False)
    folders = [p for p in output.iterdir() if (p / "timeline.html").is_file()] if output.is_dir() else []
    if done.returncode != 1 or len(folders) != 1:
        raise RuntimeError(
            f"the production-bug scenario should fail once and leave one timeline; pytest exit {done.returncode}, "
            f"timelines {folders}; output:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
        )
    return folders[0]
