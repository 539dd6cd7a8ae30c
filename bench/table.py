"""The benchmark's results as plain-text tables for the terminal. Pure functions of `Results`.

Hand-written padding rather than a table library: three small tables do not justify a dependency.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.load import load_table
from bench.results import Results, Target
from bench.stats import Summary


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, a dashed rule under the headers."""
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, the headers {len(headers)}")
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)])


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"


def spread(summary: Summary) -> str:
    return f"median {seconds(summary.median)}, p95 {seconds(summary.p95)} (n={summary.n})"


def verdict(target: Target | None) -> tuple[str, str]:
    if target is None:
        return "", ""
    limit = seconds(target.limit) if target.unit == "s" else f"{target.limit:g}{target.unit}"
    return f"{target.comparison} {limit}", "met" if target.met else "MISSED"


def _target(results: Results, prefix: str) -> Target | None:
    return next((target for target in results.targets if target.name.startswith(prefix)), None)


def figures_table(results: Results) -> str:
    startup, overhead, memory = results.startup, results.overhead, results.memory
    rows: list[list[str]] = [
        ["start-up to ready, harness (pytest)", spread(startup.harness), "", ""],
        ["start-up to ready, bare script", spread(startup.bare), "", ""],
        ["per-test wall, harness", spread(overhead.harness), "", ""],
        ["per-test wall, bare script", spread(overhead.bare), "", ""],
        [
            "per-test overhead, harness / bare",
            f"{overhead.ratio:.2f}x (per round: {', '.join(f'{r:.2f}' for r in overhead.round_ratios)})",
            *verdict(_target(results, "per-test overhead")),
        ],
    ]
    if results.suite is not None:
        suite = results.suite
        serial = statistics.median(run.wall_s for run in suite.serial)
        parallel = statistics.median(run.wall_s for run in suite.parallel)
        rows.append(
            [
                "e2e suite wall, serial / -n 2",
                f"{seconds(serial)} / {seconds(parallel)} = {suite.speedup:.2f}x",
                *verdict(_target(results, "e2e suite")),
            ]
        )
        rows.append(
            [
                "e2e suite CPUs kept busy",
                f"serial {suite.serial_cores_busy:.2f}, -n 2 {suite.parallel_cores_busy:.2f} of "
                f"{results.machine.nproc}; CPU-bound ceiling of the speed-up {suite.speedup_ceiling:.2f}x",
                "",
                "",
            ]
        )
    else:
        rows.append(["e2e suite wall, serial / -n 2", "skipped (--quick)", "", ""])
    for latency in results.latency:
        rows.append(
            [
                f"event latency, poll {latency.poll_interval_s:g} s",
                f"{spread(latency.after_write)}; p95 from before the write {seconds(latency.before_write.p95)}",
                *verdict(_target(results, f"event latency p95 at poll {latency.poll_interval_s:g} s")),
            ]
        )
    rows += [
        [
            "peak RSS, test process",
            f"pytest {memory.harness_process_peak_mb:.0f} MB; bare script {memory.bare_process_peak_mb:.0f} MB",
            "",
            "",
        ],
        [
            "browser memory",
            f"{memory.harness_browser.processes} processes: sum of peak RSS "
            f"{memory.harness_browser.peak_rss_sum_mb:.0f} MB, PSS {memory.harness_browser.pss_sum_mb:.0f} MB "
            f"(bare {memory.bare_browser.peak_rss_sum_mb:.0f} / {memory.bare_browser.pss_sum_mb:.0f} MB); "
            f"driver {memory.harness_browser.driver_peak_rss_mb:.0f} MB",
            "",
            "",
        ],
    ]
    return format_table(["figure", "value", "target", "verdict"], rows)


def breakdown_table(results: Results) -> str:
    """Where the time goes: start-up steps, then the per-test steps of harness and bare side by side."""
    startup = results.startup
    steps = sorted({*startup.harness_steps, *startup.bare_steps}, key=lambda s: startup.harness_steps.get(s, 0.0))
    rows: list[list[str]] = [
        [f"start-up: {step}", _optional(startup.harness_steps.get(step)), _optional(startup.bare_steps.get(step))]
        for step in steps
    ]
    rows += [
        [f"per test: {step.step}", _optional(step.harness_s), _optional(step.bare_s)] for step in results.overhead.steps
    ]
    return format_table(["step (medians; start-up from spawn)", "harness", "bare script"], rows)


def _optional(value: float | None) -> str:
    return "-" if value is None else seconds(value)


def header(results: Results) -> str:
    machine = results.machine
    load_start = " ".join(f"{value:.2f}" for value in results.load_start)
    load_end = " ".join(f"{value:.2f}" for value in results.load_end)
    background = ", ".join(f"{section} {share:.0%}" for section, share in results.background_cpu.items())
    return (
        f"SSE gate benchmark, {results.started_at}, {results.duration_s:.0f} s "
        f"({results.settle_waited_s:.0f} s of it waiting for a quiet machine)\n"
        f"{machine.nproc} CPUs ({machine.cpu_model}), Python {machine.python}; "
        f"load average (1/5/15 min) {load_start} at start, {load_end} at end\n"
        f"other work on the machine while measuring (share of all CPUs): {background or 'not measured'}"
    )


def render(results: Results) -> str:
    parts = [header(results), figures_table(results), breakdown_table(results)]
    if results.load is not None:
        parts.append(load_table(results.load))
    if results.notes:
        parts.append("\n".join(f"note: {note}" for note in results.notes))
    return "\n\n".join(parts)
