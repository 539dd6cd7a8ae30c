"""The gate's records inside Playwright's own trace, as groups (`tracing.group`, Playwright >= 1.49).

Groups appear in `playwright show-trace`'s action list and timeline beside the actions and
screenshots. Scripted steps and page-text changes are grouped live, at the moment they happen (the
test thread calls them; the page-text binding runs on it). The SSE frames and dispatches are
recorded by page scripts and the backend's thread, which cannot call Playwright, so they are added
once at the end of the test as one group, "SSE as recorded by the gate", whose children carry each
record's own time offset in their name: the trace's clock places them at the end, their names say
when they happened.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import BrowserContext
from playwright.sync_api import Error as PlaywrightError

SSE_GROUP: Final = "SSE as recorded by the gate"
MAX_GROUPS: Final = 400  # a long heartbeat-only stream must not flood the trace


class TraceGroups:
    """Opens and closes trace groups on one context; never raises (a closed context ends it)."""

    def __init__(self, context: BrowserContext) -> None:
        self._context = context
        self._open = 0
        self._written = 0
        self._broken = False

    def begin(self, name: str) -> None:
        if self._broken or self._written >= MAX_GROUPS:
            return
        try:
            self._context.tracing.group(name[:300])
        except PlaywrightError:
            self._broken = True
            return
        self._open += 1
        self._written += 1

    def end(self) -> None:
        if not self._open:
            return
        self._open -= 1
        try:
            self._context.tracing.group_end()
        except PlaywrightError:
            self._broken = True

    def mark(self, name: str) -> None:
        """A group with nothing in it: a labelled point in the trace."""
        opened = self._open
        self.begin(name)
        if self._open > opened:
            self.end()

    def close_all(self) -> None:
        while self._open:
            self.end()


def trace_group_names(trace_zip: Path | str) -> list[str]:
    """The names of the groups in a trace zip, in order (for tests: no viewer needed)."""
    names: list[str] = []
    with zipfile.ZipFile(trace_zip) as archive:
        for member in archive.namelist():
            if not member.endswith(".trace"):
                continue
            for line in archive.read(member).decode("utf-8").splitlines():
                try:
                    event: Any = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("type") == "before" and _is_group(event):
                    names.append(str(event.get("title") or (event.get("params") or {}).get("name", "")))
    return names


def _is_group(event: dict[str, Any]) -> bool:
    method = str(event.get("method", ""))
    return method == "tracingGroup" or (event.get("class") == "Tracing" and method == "group")
