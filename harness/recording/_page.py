"""Page-side recording: how the page used EventSource, and what the browser logged, requested and visited.

`EventSourceRecorder.install(context)` adds `eventsource_recorder.js` as an init script (it runs in
every document before any page script) and a context-wide binding. Records stay in the page (no
round trip to Python per event, which cost the hot path ~1 ms each); `collect(page)` reads the
current document's array in one evaluate. The in-page array dies with its document (the redirect to
the editor right after `success`), so when a navigation starts (`beforeunload`) the script hands the
document's records to Python through the binding in one call, and each later one as it happens
(see the script for why not `pagehide`). `clear()` forgets them (a reused context, next test).

`PageObserver.attach(context)` listens to Playwright's console, pageerror, request, response,
requestfinished, requestfailed and framenavigated events. Their times are receipt times (the sync
API delivers events only while the test thread is inside a Playwright call), except requests, which
take the browser's own start time once they finish or fail.

Sync Playwright API only (the harness's). Every `t` is wall-clock seconds (see `harness.evidence`).
"""

from __future__ import annotations

import importlib.resources
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, ConsoleMessage, Frame, Page, Request, Response
from playwright.sync_api import Error as PlaywrightError

from drafts_api.protocol import STREAM_EVENTS
from harness.evidence import (
    ConsoleEntry,
    Evidence,
    Navigation,
    PageClose,
    PageDispatch,
    PageEventSource,
    PageEventSourceLog,
    PageRequest,
)

SCRIPT_PATH = Path(str(importlib.resources.files("harness.recording") / "eventsource_recorder.js"))  # package data
BINDING_NAME = "__sseGateRecord"
LOG_NAME = "__sseGateLog"


class EventSourceRecorder:
    """Records every EventSource of every page in one browser context.

    `observe_types`: event types whose dispatches are recorded even when the page registers no
    listener for them (default: the protocol's event names). Without them the recorder could not
    show that `progress` arrived and reached nobody.
    """

    def __init__(self, observe_types: Iterable[str] = tuple(STREAM_EVENTS)) -> None:
        self._observe_types = list(dict.fromkeys(observe_types))
        self._records: dict[tuple[str, int], dict[str, Any]] = {}
        self._installed = False

    @property
    def observe_types(self) -> tuple[str, ...]:
        """The event types recorded even where the page has no listener for them."""
        return tuple(self._observe_types)

    def install(self, context: BrowserContext) -> EventSourceRecorder:
        """Install on `context` before its pages load the app (open pages get it on their next navigation).

        One recorder per context.
        """
        if self._installed:
            raise RuntimeError("EventSourceRecorder.install() called twice; use one recorder per context")
        context.expose_binding(BINDING_NAME, self._receive)
        context.add_init_script(script=self.init_script())
        self._installed = True
        return self

    def init_script(self) -> str:
        config = {"bindingName": BINDING_NAME, "logName": LOG_NAME, "observeTypes": self._observe_types}
        # One script, config first: two separate init scripts would rely on their relative order.
        return f"globalThis.__sseGateRecorderConfig = {json.dumps(config)};\n{SCRIPT_PATH.read_text('utf-8')}"

    def _receive(self, source: Any, records: Any) -> None:
        """The binding: a batch of records (a document unloading), or one record."""
        for record in records if isinstance(records, list) else [records]:
            if isinstance(record, dict) and "doc" in record and "seq" in record:
                self._records[(str(record["doc"]), int(record["seq"]))] = record

    def records(self) -> list[dict[str, Any]]:
        """The raw records received so far, in the order they happened."""
        return sorted(self._records.values(), key=lambda r: (float(r.get("t", 0.0)), int(r["seq"])))

    def clear(self) -> None:
        self._records.clear()

    def collect(self, page: Page | None = None) -> PageEventSourceLog:
        """The log so far; with `page`, first merge its current document's records (never raises)."""
        if page is not None and not page.is_closed():
            try:
                in_page = _evaluate_past_listener_errors(
                    page, f"() => Array.from(globalThis[{json.dumps(LOG_NAME)}] || [])"
                )
            except PlaywrightError:
                in_page = []  # navigating or closed: the binding has delivered what there was
            self._receive(None, in_page)
        return build_eventsource_log(self.records())


def install(context: BrowserContext, observe_types: Iterable[str] = tuple(STREAM_EVENTS)) -> EventSourceRecorder:
    """Shorthand for `EventSourceRecorder(observe_types).install(context)`."""
    return EventSourceRecorder(observe_types).install(context)


def build_eventsource_log(records: Iterable[dict[str, Any]]) -> PageEventSourceLog:
    """Turn the recorder's raw records (in order) into the evidence model."""
    records = list(records)
    deliveries: dict[tuple[str, int], int] = {}
    for record in records:
        if record.get("kind") == "deliver":
            key = (str(record["doc"]), int(record["dispatch"]))
            deliveries[key] = deliveries.get(key, 0) + 1

    sources: dict[str, PageEventSource] = {}
    log = PageEventSourceLog()
    for record in records:
        kind = record.get("kind")
        source_id = str(record.get("source", ""))
        t = float(record.get("t", 0.0))
        if kind == "construct":
            sources[source_id] = PageEventSource(
                source_id=source_id,
                url=str(record.get("url", "")),
                resolved_url=str(record.get("resolved_url", "")),
                page_url=str(record.get("page_url", "")),
                t=t,
                with_credentials=bool(record.get("with_credentials", False)),
                observed_types=[str(name) for name in record.get("observed_types") or []],
            )
            log.sources.append(sources[source_id])
        elif kind == "listen" and source_id in sources:
            # Types ever listened for: a listener removed after the stream ended still counted.
            if record["type"] not in sources[source_id].listener_types:
                sources[source_id].listener_types.append(str(record["type"]))
        elif kind == "handler" and source_id in sources:
            props = sources[source_id].handler_properties
            if record.get("assigned") == "function" and record["property"] not in props:
                props.append(str(record["property"]))
        elif kind == "dispatch":
            log.dispatches.append(
                PageDispatch(
                    source_id=source_id,
                    type=str(record.get("type", "")),
                    t=t,
                    data=record.get("data"),
                    message_event=bool(record.get("message_event", False)),
                    trusted=bool(record.get("trusted", True)),
                    ready_state=record.get("ready_state"),
                    last_event_id=record.get("last_event_id"),
                    listeners_called=deliveries.get((str(record["doc"]), int(record["dispatch"])), 0),
                )
            )
        elif kind == "close":
            log.closes.append(PageClose(source_id=source_id, t=t, ready_state_before=record.get("ready_state_before")))
    return log


class PageObserver:
    """Console messages, uncaught page errors, requests and main-frame navigations of one context."""

    def __init__(self) -> None:
        # Keyed by Playwright's Request object (identity): a redirect is a new Request.
        self._requests: dict[Request, PageRequest] = {}
        self._console: list[ConsoleEntry] = []
        self._navigations: list[Navigation] = []
        self._context: BrowserContext | None = None
        self._pages: list[Page] = []

    def attach(self, context: BrowserContext) -> PageObserver:
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("requestfinished", self._on_request_finished)
        context.on("requestfailed", self._on_request_failed)
        context.on("page", self._watch_page)
        self._context = context
        for page in context.pages:
            self._watch_page(page)
        return self

    def detach(self) -> None:
        """Stop observing (a context reused by the next test must not keep this test's listeners)."""
        context, self._context = self._context, None
        if context is not None:
            context.remove_listener("request", self._on_request)
            context.remove_listener("response", self._on_response)
            context.remove_listener("requestfinished", self._on_request_finished)
            context.remove_listener("requestfailed", self._on_request_failed)
            context.remove_listener("page", self._watch_page)
        for page in self._pages:
            page.remove_listener("console", self._on_console)
            page.remove_listener("pageerror", self._on_page_error)
            page.remove_listener("framenavigated", self._on_frame_navigated)
        self._pages.clear()

    def _watch_page(self, page: Page) -> None:
        self._pages.append(page)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("framenavigated", self._on_frame_navigated)

    def _on_request(self, request: Request) -> None:
        self._requests[request] = PageRequest(
            url=request.url, method=request.method, resource_type=request.resource_type, t=time.time()
        )

    def _update(self, request: Request, **changes: Any) -> None:
        known = self._requests.get(request)
        if known is not None:
            self._requests[request] = replace(known, **changes)

    def _on_response(self, response: Response) -> None:
        self._update(
            response.request,
            status=response.status,
            content_type=response.headers.get("content-type", ""),
            t_response=time.time(),
        )

    def _on_request_finished(self, request: Request) -> None:
        self._update(request, **{"t_end": time.time(), **_browser_timing(request)})

    def _on_request_failed(self, request: Request) -> None:
        failure = request.failure or "failed"
        self._update(request, **{"failure": failure, "t_end": time.time(), **_browser_timing(request)})

    def _on_console(self, message: ConsoleMessage) -> None:
        where = message.location or {}
        location = f"{where.get('url', '')}:{where.get('lineNumber', '')}" if where.get("url") else ""
        self._console.append(ConsoleEntry(type=message.type, text=message.text, t=time.time(), location=location))

    def _on_page_error(self, error: PlaywrightError) -> None:
        name = getattr(error, "name", "") or "Error"
        location = _first_stack_frame(getattr(error, "stack", "") or "")
        self._console.append(
            ConsoleEntry(type="pageerror", text=f"{name}: {error.message}", t=time.time(), location=location)
        )

    def _on_frame_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is None:
            self._navigations.append(Navigation(url=frame.url, t=time.time()))

    def page_requests(self) -> list[PageRequest]:
        return list(self._requests.values())

    def console(self) -> list[ConsoleEntry]:
        return list(self._console)

    def navigations(self) -> list[Navigation]:
        return list(self._navigations)

    def fill(self, evidence: Evidence) -> None:
        """Copy what was observed into `evidence`."""
        evidence.page_requests = self.page_requests()
        evidence.console = self.console()
        evidence.navigations = self.navigations()


def _browser_timing(request: Request) -> dict[str, float]:
    """The browser's own times for `request`, to replace receipt times, where known.

    Playwright hands events to the sync API only while the test thread is inside a Playwright call,
    so a receipt time can be seconds late (a test blocked on the backend); the browser's
    `startTime` is wall-clock milliseconds, the same clock as every other `t`.
    """
    timing = request.timing
    start_ms = timing.get("startTime", -1)
    if start_ms <= 0:
        return {}
    times = {"t": start_ms / 1000}
    if timing.get("responseStart", -1) >= 0:
        times["t_response"] = (start_ms + timing["responseStart"]) / 1000
    if timing.get("responseEnd", -1) >= 0:
        times["t_end"] = (start_ms + timing["responseEnd"]) / 1000
    return times


def _first_stack_frame(stack: str) -> str:
    for line in stack.splitlines()[1:]:
        line = line.strip()
        if line.startswith("at "):
            return line[3:]
    return ""


@dataclass(frozen=True)
class PageMessages:
    url: str = ""
    status_text: str = ""
    alert_text: str = ""


def read_page_messages(
    page: Page, status_selector: str = "[role=status]", alert_selector: str = "[role=alert]"
) -> PageMessages:
    """What the page shows right now in its status and alert regions; empty strings when unreadable.

    For failure time: one evaluate, never raises, never waits for an element to appear.
    """
    if page.is_closed():
        return PageMessages()
    script = """([statusSelector, alertSelector]) => {
        const text = (selector) => Array.from(document.querySelectorAll(selector))
            .map((element) => element.textContent.trim()).filter(Boolean).join(" | ");
        return [location.href, text(statusSelector), text(alertSelector)];
    }"""
    try:
        url, status, alert = _evaluate_past_listener_errors(page, script, [status_selector, alert_selector])
    except PlaywrightError:
        return PageMessages(url=page.url)
    return PageMessages(url=str(url), status_text=str(status), alert_text=str(alert))


# A test's listeners raise one error at a time (Playwright keeps the last one), so a few calls pass them.
_LISTENER_ERRORS_PASSED = 3


def _evaluate_past_listener_errors(page: Page, script: str, arg: Any = None) -> Any:
    """`page.evaluate` for the evidence, made again when a test's own event listener's error comes out of it.

    Playwright's sync API raises the error of an event listener (a test's `page.route` handler that
    raised) from the next API call, before sending that call, whichever call it is. At failure time
    that call is often the collector's: the listener's error is in the test's log already (Playwright
    logs it), and raising it here would lose the evidence of the test's own failure, so the call is
    made again. A PlaywrightError (the page closed or navigating) is the caller's to handle.
    """
    for _ in range(_LISTENER_ERRORS_PASSED):
        try:
            return page.evaluate(script, arg)
        except PlaywrightError:
            raise
        except Exception:  # a listener's error, of any type: see the docstring
            continue
    return page.evaluate(script, arg)
