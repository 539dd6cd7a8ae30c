"""What the page showed over time: the text of its status and alert regions, at each change.

The evidence holds that text only at failure time; the SSE timeline needs it as it changed
("Writing..." while the stream ran, then "Connection lost"). `PageTextRecorder.install(context)`
adds `page_text_recorder.js` (a MutationObserver) as an init script and a binding through which each
change reaches Python as it happens, so the records survive the page's navigation to the editor.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext

SCRIPT_PATH = Path(__file__).with_name("page_text_recorder.js")
BINDING_NAME = "__sseGatePageText"
LOG_NAME = "__sseGatePageTextLog"


@dataclass(frozen=True)
class PageText:
    """The page's status and alert text (visible text only, "" when hidden) from time `t` on."""

    t: float
    url: str
    status: str
    alert: str


PageTextListener = Callable[[PageText], None]


class PageTextRecorder:
    """Records status/alert text changes of every page of one browser context."""

    def __init__(self, status_selector: str = "[role=status]", alert_selector: str = "[role=alert]") -> None:
        self._selectors = (status_selector, alert_selector)
        self._records: dict[tuple[str, int], PageText] = {}
        self._listeners: list[PageTextListener] = []
        self._installed = False

    def install(self, context: BrowserContext) -> PageTextRecorder:
        if self._installed:
            raise RuntimeError("PageTextRecorder.install() called twice; use one recorder per context")
        context.expose_binding(BINDING_NAME, self._receive)
        config = {
            "bindingName": BINDING_NAME,
            "logName": LOG_NAME,
            "statusSelector": self._selectors[0],
            "alertSelector": self._selectors[1],
        }
        context.add_init_script(
            script=f"globalThis.__sseGatePageTextConfig = {json.dumps(config)};\n{SCRIPT_PATH.read_text('utf-8')}"
        )
        self._installed = True
        return self

    def on_change(self, listener: PageTextListener) -> None:
        """Call `listener` (on the test thread, from Playwright's event dispatch) at each change."""
        self._listeners.append(listener)

    def clear(self) -> None:
        """Forget the records and listeners (a context reused by the next test keeps the recorder)."""
        self._records.clear()
        self._listeners.clear()

    def _receive(self, source: Any, record: Any) -> None:
        if not (isinstance(record, dict) and "doc" in record and "seq" in record):
            return
        text = PageText(
            t=float(record.get("t", 0.0)),
            url=str(record.get("url", "")),
            status=str(record.get("status", "")),
            alert=str(record.get("alert", "")),
        )
        key = (str(record["doc"]), int(record["seq"]))
        if key in self._records:
            return
        self._records[key] = text
        for listener in self._listeners:
            listener(text)

    def changes(self) -> list[PageText]:
        """Every change received so far, in time order."""
        return sorted(self._records.values(), key=lambda text: text.t)
