"""The page-side recorder in real headless Chromium, against a tiny local SSE server.

Two pages read the same named-event stream: one listens with `onmessage` only (the production
bug), one with `addEventListener` per event and `close()` on `success` followed by a redirect.
With SSE_GATE_WRITE_SAMPLES=1 the evidence of both runs is written to tests/evidence_samples/ as
JSON, for the diagnosis tests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

from harness.evidence import Evidence
from harness.recording import (
    EventSourceRecorder,
    PageObserver,
    WireLog,
    WireRecorder,
    build_eventsource_log,
    read_page_messages,
)
from harness.servers import LiveServer

SAMPLES_DIR = Path(__file__).with_name("evidence_samples")
WAIT_MS = 5000

DRAFT = {
    "id": "d-42",
    "campaign_id": "c1",
    "title": "Spring launch",
    "body": "Hello",
    "tone": "friendly",
    "length": "short",
    "created_at": "2025-01-01T00:00:00Z",
}


def _frame(event: str, data: dict[str, Any], retry: int | None = None) -> bytes:
    head = f"retry: {retry}\n" if retry is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n".encode()


NAMED_STREAM = [
    _frame("started", {"type": "status", "message": "Starting"}, retry=300),
    b": heartbeat\n\n",
    _frame("progress", {"type": "status", "message": "Analyzing the topic"}),
    _frame("progress", {"type": "status", "message": "Writing the draft"}),
    _frame("progress", {"type": "status", "message": "Polishing"}),
    _frame("success", {"type": "complete", "draft": DRAFT}),
    _frame("done", {}),
]

ONMESSAGE_PAGE = """<!doctype html><title>old client</title>
<p role="status" id="status"></p><div role="alert" id="alert"></div>
<script>
  const source = new EventSource("/stream");
  source.onmessage = (event) => {
    document.getElementById("status").textContent = JSON.parse(event.data).message;
  };
  source.onerror = () => { document.getElementById("alert").textContent = "Connection lost"; };
</script>"""

LISTENERS_PAGE = """<!doctype html><title>fixed client</title>
<p role="status" id="status"></p><div role="alert" id="alert"></div>
<script>
  const source = new EventSource("/stream");
  const show = (event) => {
    document.getElementById("status").textContent = JSON.parse(event.data).message;
  };
  for (const name of ["pending", "started", "progress"]) source.addEventListener(name, show);
  source.addEventListener("success", (event) => {
    source.close();
    location.href = "/editor?id=" + JSON.parse(event.data).draft.id;
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) document.getElementById("alert").textContent = "Connection lost";
  });
</script>"""

EDITOR_PAGE = """<!doctype html><title>editor</title><h1>Editor</h1>"""

# Run in a plain context and in a recorded one: the results must be identical.
BEHAVIOUR_PROBE = """async () => {
  const calls = [];
  const facts = {};
  facts.noArgs = (() => { try { new EventSource(); return "no error"; } catch (e) { return e.name; } })();
  facts.badUrl = (() => { try { new EventSource("http://["); return "no error"; } catch (e) { return e.name; } })();
  facts.constants = [EventSource.CONNECTING, EventSource.OPEN, EventSource.CLOSED];
  facts.name = EventSource.name;
  facts.length = EventSource.length;
  const source = new EventSource("/stream?probe=1");
  facts.instance = source instanceof EventSource;
  facts.initialState = source.readyState;
  facts.url = source.url.endsWith("/stream?probe=1");
  facts.protoHasClose = typeof EventSource.prototype.close;
  const handler = function (event) { calls.push(["onmessage", event.type, this === source]); };
  source.onmessage = handler;
  facts.readBack = source.onmessage === handler;
  source.onmessage = null;
  facts.cleared = source.onmessage;
  source.onmessage = "not a function";
  facts.nonFunction = source.onmessage;
  const removed = () => calls.push(["removed"]);
  source.addEventListener("progress", removed);
  source.removeEventListener("progress", removed);
  const twice = (event) => calls.push(["twice", event.type]);
  source.addEventListener("progress", twice);
  source.addEventListener("progress", twice);  // same listener twice: registered once
  source.addEventListener("progress", twice, true);  // capture is a different registration
  source.addEventListener("started", { handleEvent(event) { calls.push(["object", event.type, this !== source]); } });
  source.addEventListener("progress", (event) => calls.push(["once", event.type]), { once: true });
  source.addEventListener("progress", (event) => {
    calls.push(["prevented", event.defaultPrevented, event instanceof MessageEvent, event.isTrusted]);
  });
  source.onopen = () => calls.push(["onopen", source.readyState]);
  await new Promise((resolve) => {
    source.addEventListener("done", (event) => {
      calls.push(["done", event.data, event.lastEventId]);
      source.close();
      facts.closedState = source.readyState;
      resolve();
    });
    setTimeout(resolve, 4000);
  });
  return { calls, facts };
}"""


def _build_app() -> Starlette:
    async def stream(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for chunk in NAMED_STREAM:
                yield chunk

        return StreamingResponse(
            body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    def page(html: str) -> Any:
        async def endpoint(request: Request) -> HTMLResponse:
            return HTMLResponse(html)

        return endpoint

    return Starlette(
        routes=[
            Route("/stream", stream),
            Route("/onmessage", page(ONMESSAGE_PAGE)),
            Route("/listeners", page(LISTENERS_PAGE)),
            Route("/editor", page(EDITOR_PAGE)),
            Route("/blank", page("<!doctype html><title>blank</title>")),
        ]
    )


# The browser comes from the gate plugin's `browser_type_launch_args` (harness.browsers: Playwright's
# build, else a system Chromium with the flags it needs), as in every other browser test.


@pytest.fixture(scope="module")
def wire_log() -> WireLog:
    return WireLog()


@pytest.fixture(scope="module")
def server(wire_log: WireLog) -> Iterator[LiveServer]:
    with LiveServer(WireRecorder(_build_app(), wire_log)) as live:
        yield live


class Recorded:
    """One recorded browser context: the page, its recorders, and the wire slice of this test."""

    def __init__(self, context: BrowserContext, wire_log: WireLog, base_url: str) -> None:
        self.wire_log = wire_log
        self.mark = wire_log.mark()
        self.base_url = base_url
        self.eventsource = EventSourceRecorder().install(context)
        self.observer = PageObserver().attach(context)
        self.page = context.new_page()

    def evidence(self, test_id: str) -> Evidence:
        streams, exchanges = self.wire_log.since(self.mark)
        messages = read_page_messages(self.page)
        evidence = Evidence(
            test_id=test_id,
            collected_at=time.time(),
            streams=streams,
            http_exchanges=exchanges,
            eventsource=self.eventsource.collect(self.page),
            page_url=messages.url,
            page_status_text=messages.status_text,
            page_alert_text=messages.alert_text,
        )
        self.observer.fill(evidence)
        return evidence


@pytest.fixture
def recorded(browser: Browser, server: LiveServer, wire_log: WireLog) -> Iterator[Recorded]:
    context = browser.new_context(base_url=server.url)
    try:
        yield Recorded(context, wire_log, server.url)
    finally:
        context.close()


def _maybe_write_sample(name: str, evidence: Evidence) -> None:
    if os.environ.get("SSE_GATE_WRITE_SAMPLES") == "1":
        SAMPLES_DIR.mkdir(exist_ok=True)
        path = SAMPLES_DIR / f"{name}.json"
        path.write_text(json.dumps(evidence.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def test_onmessage_page_receives_nothing_of_the_named_stream(recorded: Recorded) -> None:
    page = recorded.page
    page.goto("/onmessage")
    expect(page.get_by_role("alert")).to_have_text("Connection lost", timeout=WAIT_MS)
    # The stream ends, the page never closes it: EventSource reconnects (retry: 300 ms). Resource
    # timing lists a stream request once it has ended, so this waits for two finished connections.
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/stream')).length >= 2",
        timeout=WAIT_MS,
    )
    evidence = recorded.evidence("onmessage")
    _maybe_write_sample("named_event_mismatch", evidence)

    [source, *_] = evidence.eventsource.sources
    assert source.url == "/stream" and source.resolved_url == f"{recorded.base_url}/stream"
    assert source.listened_types() == {"message": ["onmessage"], "error": ["onerror"]}
    first_stream = [d for d in evidence.eventsource.dispatches if d.source_id == source.source_id]
    named = [(d.type, d.listeners_called) for d in first_stream if d.message_event][:6]
    assert named == [
        ("started", 0),
        ("progress", 0),
        ("progress", 0),
        ("progress", 0),
        ("success", 0),
        ("done", 0),
    ]
    errors = [d for d in first_stream if d.type == "error"]
    assert errors and errors[0].listeners_called == 1 and errors[0].message_event is False
    assert errors[0].ready_state == 0, "a normal end of stream must leave EventSource reconnecting"
    assert evidence.eventsource.closes == []
    assert len(evidence.stream_connections()) >= 2
    assert evidence.page_alert_text == "Connection lost"
    sent = [f.event for f in evidence.streams[0].events]
    assert sent == ["started", "progress", "progress", "progress", "success", "done"]


def test_listener_page_log_survives_the_redirect(recorded: Recorded) -> None:
    page = recorded.page
    page.goto("/listeners")
    page.wait_for_url("**/editor?id=d-42", timeout=WAIT_MS)
    expect(page.get_by_role("heading", name="Editor")).to_be_visible(timeout=WAIT_MS)
    evidence = recorded.evidence("listeners")
    _maybe_write_sample("healthy", evidence)

    [source] = evidence.eventsource.sources
    assert source.listener_types == ["pending", "started", "progress", "success", "error"]
    assert source.handler_properties == []
    delivered = [(d.type, d.listeners_called) for d in evidence.eventsource.dispatches if d.message_event]
    assert delivered == [("started", 1), ("progress", 1), ("progress", 1), ("progress", 1), ("success", 1)]
    opens = [d for d in evidence.eventsource.dispatches if d.type == "open"]
    assert len(opens) == 1 and opens[0].listeners_called == 0
    [close] = evidence.eventsource.closes
    assert close.ready_state_before == 1
    assert len(evidence.stream_connections()) == 1
    assert [n.url.removeprefix(recorded.base_url) for n in evidence.navigations] == ["/listeners", "/editor?id=d-42"]
    success_sent = next(f for f in evidence.streams[0].events if f.event == "success")
    success_seen = next(d for d in evidence.eventsource.dispatches if d.type == "success")
    # One clock on both sides: the page sees a frame after the app handed it to the server, and soon after.
    assert 0 <= success_seen.t - success_sent.t < 2.0, (success_sent.t, success_seen.t)


def test_page_behaves_exactly_as_without_the_recorder(browser: Browser, server: LiveServer, recorded: Recorded) -> None:
    plain_context = browser.new_context(base_url=server.url)
    try:
        plain = plain_context.new_page()
        plain.goto("/blank")
        expected = plain.evaluate(BEHAVIOUR_PROBE)
    finally:
        plain_context.close()
    recorded.page.goto("/blank")
    observed = recorded.page.evaluate(BEHAVIOUR_PROBE)
    assert observed == expected
    # The probe itself must have exercised what it claims to.
    assert expected["facts"]["instance"] is True and ["once", "progress"] in expected["calls"]
    assert expected["calls"].count(["twice", "progress"]) == 6  # 3 progress x (bubble + capture)

    log = recorded.eventsource.collect(recorded.page)
    probe_source = next(s for s in log.sources if s.url == "/stream?probe=1")
    progress = [d for d in log.dispatches if d.source_id == probe_source.source_id and d.type == "progress"]
    # twice (bubble), twice (capture), prevented, and once on the first dispatch only.
    assert [d.listeners_called for d in progress] == [4, 3, 3]
    assert probe_source.handler_properties == ["onmessage", "onopen"]


def test_records_reach_python_before_the_document_is_gone(recorded: Recorded) -> None:
    recorded.page.goto("/blank")
    recorded.page.evaluate("() => { new EventSource('/stream?x=1').close(); }")
    recorded.page.goto("/editor")  # the first document's in-page array is gone now
    log = recorded.eventsource.collect(recorded.page)
    assert [s.url for s in log.sources] == ["/stream?x=1"]
    assert [c.ready_state_before for c in log.closes] == [0]


def test_observer_records_console_page_errors_and_failed_requests(recorded: Recorded) -> None:
    page = recorded.page
    page.goto("/blank")
    page.evaluate("() => { console.error('boom in console'); setTimeout(() => { throw new TypeError('kaput'); }); }")
    page.evaluate("() => fetch('/missing-route').catch(() => {})")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 50))")
    expect(page.locator("title")).to_have_count(1)
    console = recorded.observer.console()
    assert any(c.type == "error" and c.text == "boom in console" for c in console), console
    assert any(c.type == "pageerror" and c.text == "TypeError: kaput" for c in console), console
    missing = [r for r in recorded.observer.page_requests() if r.url.endswith("/missing-route")]
    assert missing and missing[0].status == 404 and missing[0].resource_type == "fetch", missing


def test_build_log_counts_deliveries_per_document() -> None:
    records = [
        {"kind": "construct", "doc": "a", "seq": 1, "t": 1.0, "source": "a:1", "url": "/s", "resolved_url": "x"},
        {
            "kind": "dispatch",
            "doc": "a",
            "seq": 2,
            "t": 2.0,
            "source": "a:1",
            "dispatch": 1,
            "type": "progress",
            "data": "{}",
            "message_event": True,
            "trusted": True,
            "ready_state": 1,
        },
        {"kind": "deliver", "doc": "a", "seq": 3, "t": 2.0, "source": "a:1", "dispatch": 1, "via": "addEventListener"},
        # Same dispatch number in another document: must not be counted for the first.
        {"kind": "deliver", "doc": "b", "seq": 1, "t": 3.0, "source": "b:1", "dispatch": 1, "via": "onmessage"},
    ]
    log = build_eventsource_log(records)
    assert [(d.type, d.listeners_called) for d in log.dispatches] == [("progress", 1)]
