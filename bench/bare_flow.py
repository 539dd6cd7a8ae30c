"""`python -m bench.bare_flow --iterations N --record FILE`: the happy path N times by bare Playwright.

One process, one backend/frontend/browser (`bench.stack`), one fresh context per flow, as pytest-playwright
gives each test. Writes a `BatchRecord` (timings, this process's peak RSS, the browser's memory).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.flow import run_flow
from bench.machine import TreeMemory, browser_memory_below, own_peak_rss_mb
from bench.records import BatchRecord, IterationTiming
from bench.stack import bare_stack


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_flow", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--iterations", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args(argv)

    iterations: list[IterationTiming] = []
    browser_memory: list[TreeMemory] = []

    def measure_browser() -> None:
        browser_memory.append(browser_memory_below(os.getpid()))

    with bare_stack() as stack:
        began_at = time.time()
        for index in range(args.iterations):
            # The browser's memory with the last flow's page still open, as the harness takes it.
            last = index == args.iterations - 1
            phases = run_flow(stack, before_close=measure_browser if last else None)
            # The phases are back to back, so their sum is the wall time minus the untimed measurement.
            iterations.append(IterationTiming(wall_s=sum(phases.values()), phases=phases))
    BatchRecord(
        kind="bare",
        ready_at=stack.ready_at,
        # Comparable with the harness's first test body: the page open and filled.
        first_flow_at=began_at + sum(iterations[0].phases[name] for name in ("context", "page", "new_draft")),
        iterations=iterations,
        peak_rss_mb=own_peak_rss_mb(),
        browser=browser_memory[0],
    ).write(args.record)


if __name__ == "__main__":
    main()
