"""`python -m bench.latency --poll S --samples N --record FILE`: state change in Redis -> text on the page.

One generation held open; each sample writes a new progress message through scripted generation
(`run.progress()` returns once the state is in Redis) and takes `time.time()` just before and just
after. In the page, a MutationObserver (an init script, so it is in place before the page's own code)
stamps every change of the `role="status"` text with the page's high-resolution wall clock. The
page clock's offset from Python's is measured first (the smallest-round-trip reading of several)
and subtracted, so `on_page - after_write` is the latency on one clock.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from bench.records import LatencyRecord, LatencySample
from bench.stack import bare_stack
from harness.contract import DRAFTS_API

STATUS_LOG = "__benchStatusLog"
CLOCK = "performance.timeOrigin + performance.now()"
# Records (text, time) each time the status text changes. A MutationObserver callback runs as a
# microtask right after the DOM change, in the same task as the page's `textContent = ...`.
STATUS_OBSERVER = f"""
(() => {{
  const log = [];
  Object.defineProperty(globalThis, "{STATUS_LOG}", {{ value: log }});
  let last = null;
  const check = () => {{
    const status = document.querySelector('[role="status"]');
    const text = status ? status.textContent : null;
    if (text !== last) {{ last = text; log.push({{ text, t: ({CLOCK}) / 1000 }}); }}
  }};
  new MutationObserver(check).observe(document, {{ subtree: true, childList: true, characterData: true }});
}})();
"""
CLOCK_READINGS = 25
WARM_UP_SAMPLES = 2
SEED = 7


def clock_offset(page: Page) -> tuple[float, float]:
    """(page clock - Python clock, uncertainty): the reading with the smallest round trip wins."""
    best: tuple[float, float] | None = None
    for _ in range(CLOCK_READINGS):
        before = time.time()
        page_now = float(page.evaluate(f"() => ({CLOCK}) / 1000"))
        after = time.time()
        half_trip = (after - before) / 2
        if best is None or half_trip < best[1]:
            best = (page_now - (before + half_trip), half_trip)
    assert best is not None
    return best


def page_time_of(page: Page, text: str, timeout_ms: float) -> float:
    """The page-clock time at which the status first showed `text` (waits for it)."""
    handle = page.wait_for_function(
        f"(text) => globalThis.{STATUS_LOG}.find((entry) => entry.text === text)?.t",
        arg=text,
        timeout=timeout_ms,
    )
    value: Any = handle.json_value()
    return float(value)


def measure(poll_interval: float, samples: int) -> LatencyRecord:
    rng = random.Random(SEED)
    results: list[LatencySample] = []
    pause = threading.Event()  # never set: `pause.wait(s)` is the deliberate jitter below
    with bare_stack(poll_interval) as stack:
        context = stack.browser.new_context(base_url=stack.frontend_url)
        context.add_init_script(script=STATUS_OBSERVER)
        page = context.new_page()
        page.goto(DRAFTS_API.new_draft_page.fill(campaign_id=DRAFTS_API.campaign_id))
        page.get_by_label("Topic").fill("Latency probe")
        page.get_by_label("Audience").fill("The benchmark")
        page.get_by_role("button", name="Generate").click()
        run = stack.scripted.next_run()
        offset, uncertainty = clock_offset(page)
        timeout_ms = (poll_interval * 4 + 5) * 1000
        for index in range(WARM_UP_SAMPLES + samples):
            # Random phase against the stream's poll loop. Without it every write would land right
            # after the poll that delivered the previous message and always wait a whole interval;
            # with it the samples cover the interval uniformly, as real state changes do.
            pause.wait(rng.uniform(0.0, poll_interval))
            message = f"Latency sample {index}"
            before = time.time()
            run.progress(message)
            after = time.time()
            on_page = page_time_of(page, message, timeout_ms) - offset
            if index >= WARM_UP_SAMPLES:
                results.append(LatencySample(before_write=before, after_write=after, on_page=on_page))
        expect(page.get_by_role("status")).to_have_text(f"Latency sample {WARM_UP_SAMPLES + samples - 1}")
        run.succeed()
        context.close()
    return LatencyRecord(
        poll_interval_s=poll_interval,
        clock_offset_s=offset,
        clock_offset_uncertainty_s=uncertainty,
        samples=results,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--poll", type=float, required=True, help="the backend's poll interval, seconds")
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args(argv)
    measure(args.poll, args.samples).write(args.record)


if __name__ == "__main__":
    main()
