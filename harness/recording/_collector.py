"""One browser test's evidence: collected while it runs, written and explained when it fails.

Wires the recorders together for one test: the backend's wire transcript (`WireLog`, a slice from the
test's start), the page's EventSource use (`EventSourceRecorder`), the browser's requests and console
(`PageObserver`) and the backend's log records. Tests may also query it directly (stream connections,
events dispatched, listeners), and the plugin calls `explain_failure` on a failing report: the
diagnosis line goes first in the report and in the short summary, the files go into the test's
output folder next to pytest-playwright's trace and screenshot.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest
from _pytest._code.code import ExceptionChainRepr, ReprEntry, ReprEntryNative, ReprExceptionInfo
from playwright.sync_api import Page

from harness.contract import DRAFTS_API, AppContract
from harness.diagnosis import Diagnosis, diagnose, summary, write_report
from harness.evidence import ConsoleEntry, Evidence, PageDispatch, WireStream
from harness.recording._page import EventSourceRecorder, PageObserver, read_page_messages
from harness.recording._wire import WireLog

DIAGNOSIS_PREFIX = "[sse-gate] "
_BACKEND_LOG_LEVEL = logging.INFO
_MAX_BACKEND_LOG_LINES = 500


class _BackendLog(logging.Handler):
    """The backend runs in this process: its log records during the test are part of the evidence."""

    def __init__(self) -> None:
        super().__init__(level=_BACKEND_LOG_LEVEL)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < _MAX_BACKEND_LOG_LINES:
            self.lines.append(self.format(record))


class EvidenceCollector:
    STASH_KEY: ClassVar[pytest.StashKey[EvidenceCollector]] = pytest.StashKey()

    def __init__(
        self,
        test_id: str,
        page: Page,
        wire_log: WireLog,
        output_dir: Path,
        recorder: EventSourceRecorder | None = None,
        contract: AppContract = DRAFTS_API,
    ) -> None:
        """`recorder`: one already installed on the page's context (a context reused across tests,
        where a second install would fail); `start()` clears it. None: a new one is installed."""
        self.test_id = test_id
        self.contract = contract
        self.page = page
        self.wire_log = wire_log
        self.output_dir = output_dir
        self._installed_recorder = recorder is not None
        # The contract's event names are recorded even where the page has no listener for them (a
        # page that listens for other names is then shown receiving nothing of what was dispatched).
        self._recorder = recorder if recorder is not None else EventSourceRecorder(contract.events.all)
        self._observer = PageObserver()
        self._backend_log = _BackendLog()
        self._mark = 0

    @property
    def recorder(self) -> EventSourceRecorder:
        """The page's EventSource recorder (the contract's event names observed)."""
        return self._recorder

    def start(self) -> None:
        self._mark = self.wire_log.mark()
        if self._installed_recorder:
            self._recorder.clear()
        else:
            self._recorder.install(self.page.context)
        self._observer.attach(self.page.context)
        logging.getLogger().addHandler(self._backend_log)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self._backend_log)
        self._observer.detach()

    # -- queries for tests --------------------------------------------------------------------------

    def stream_connections(self) -> int:
        """Stream requests the page made so far (EventSource reconnects included)."""
        return sum(1 for request in self._observer.page_requests() if request.resource_type == "eventsource")

    def dispatched(self, event_type: str) -> list[PageDispatch]:
        """Server frames of `event_type` that the page's EventSource dispatched so far."""
        log = self._recorder.collect(self.page)
        return [d for d in log.message_dispatches() if d.type == event_type]

    def listener_types(self) -> set[str]:
        """Event types the page listens for, by `addEventListener` or an `on*` property."""
        return set(self._recorder.collect(self.page).listened_types())

    def all_eventsources_closed_by_page(self) -> bool:
        """Every EventSource the page made was `close()`d by the page (so none can reconnect)."""
        log = self._recorder.collect(self.page)
        closed = {close.source_id for close in log.closes}
        return bool(log.sources) and all(source.source_id in closed for source in log.sources)

    def eventsource_summary(self) -> str:
        log = self._recorder.collect(self.page)
        return (
            f"{len(log.sources)} EventSource(s) constructed, {len(log.closes)} close() call(s), "
            f"listened types {sorted(log.listened_types())}, "
            f"dispatched {[d.type for d in log.dispatches]}"
        )

    def wire_streams(self) -> list[WireStream]:
        """Stream responses the backend sent since the test started, as it sent them."""
        streams, _ = self.wire_log.since(self._mark)
        return streams

    def heartbeats_sent(self) -> int:
        return sum(1 for stream in self.wire_streams() for frame in stream.frames if frame.kind == "comment")

    def page_errors(self) -> list[ConsoleEntry]:
        return [entry for entry in self._observer.console() if entry.type == "pageerror"]

    # -- failure ------------------------------------------------------------------------------------

    def evidence(self, failure_text: str = "") -> Evidence:
        streams, exchanges = self.wire_log.since(self._mark)
        shown = read_page_messages(self.page)
        evidence = Evidence(
            test_id=self.test_id,
            failure_text=failure_text,
            collected_at=time.time(),
            streams=streams,
            http_exchanges=exchanges,
            eventsource=self._recorder.collect(self.page),
            backend_log=list(self._backend_log.lines),
            page_url=shown.url,
            page_status_text=shown.status_text,
            page_alert_text=shown.alert_text,
            contract=self.contract.name,
        )
        self._observer.fill(evidence)
        return evidence

    def explain_failure(self, report: pytest.TestReport, call: pytest.CallInfo[Any]) -> Diagnosis:
        failure_text = str(call.excinfo.value) if call.excinfo is not None else ""
        evidence = self.evidence(failure_text)
        diagnosis = diagnose(evidence, self.contract)  # once; the report and the files reuse it
        written = write_report(evidence, diagnosis, self.output_dir)
        _lead_report_with(report, DIAGNOSIS_PREFIX + diagnosis.line)
        report.sections.append(("sse-gate evidence", f"{summary(evidence, diagnosis)}\nfiles: {written}"))
        return diagnosis


def _lead_report_with(report: pytest.TestReport, line: str) -> None:
    """Put `line` first in the long report and in the short summary (`FAILED test - line`).

    pytest has no hook to prefix a failure's text, so the representation is edited in place, with
    types pytest-xdist knows how to send from a worker (a native traceback entry, the crash message).
    """
    longrepr = report.longrepr
    if isinstance(longrepr, ExceptionChainRepr | ReprExceptionInfo):
        first = longrepr.chain[0] if isinstance(longrepr, ExceptionChainRepr) else None
        traceback = first[0] if first is not None else longrepr.reprtraceback
        # A list at run time, typed as a Sequence.
        cast(list[ReprEntry | ReprEntryNative], traceback.reprentries).insert(0, ReprEntryNative([line + "\n\n"]))
        if longrepr.reprcrash is not None:
            longrepr.reprcrash.message = f"{line} | {longrepr.reprcrash.message}"
    else:
        report.longrepr = f"{line}\n\n{longrepr}"
