"""`make serve` (`python -m harness.serve`): both servers come up, the printed page URL works, Ctrl-C stops them."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0


def test_serve_prints_a_working_page_url_and_stops_on_ctrl_c() -> None:
    """Fails if: the page URL is not printed, the page or the API does not answer, the page is not
    told where the API is, or Ctrl-C leaves the process running."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "harness.serve", "--api-port", "0", "--frontend-port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: dict[str, str] = {}
        for line in process.stdout:  # ends when the process does: a crash fails below, never hangs
            label, _, rest = line.partition(":")
            if label in ("API", "Open"):
                printed[label] = rest.split()[0]
            if len(printed) == 2:
                break
        assert set(printed) == {"API", "Open"}, f"serve printed {printed!r}; exit code {process.poll()}"
        page = httpx.get(printed["Open"], timeout=5)
        assert page.status_code == 200 and "/config.js" in page.text
        page_origin = printed["Open"].split("/dashboard")[0]
        config = httpx.get(page_origin + "/config.js", timeout=5).text
        assert printed["API"] in config, config
        assert httpx.get(printed["API"] + "/health", timeout=5).json()["status"] == "ok"
        preflight = httpx.options(
            printed["API"] + "/v1/campaigns/c/drafts/generate",
            headers={"Origin": page_origin, "Access-Control-Request-Method": "POST"},
            timeout=5,
        )
        assert preflight.headers.get("access-control-allow-origin") == page_origin
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=START_TIMEOUT_S)
        finally:
            process.kill()
    assert process.returncode == 0, process.returncode
