"""The benchmark's figures as one document (`.bench/results.json`), and their judgement against the targets.

Pure: builds figures from the subprocesses' records; no I/O beyond `write`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from bench.load import LoadFigures
from bench.machine import MachineInfo, TreeMemory
from bench.records import BatchRecord, IterationTiming, LatencyRecord
from bench.stats import Summary, ratio, summarize

SCHEMA_VERSION = 1
OVERHEAD_LIMIT = 1.25  # harness per-test wall / bare script's, at most
SPEEDUP_LIMIT = 1.6  # serial suite wall / `-n 2` suite wall, at least
LATENCY_SLACK_S = 0.050  # latency p95 at most one poll interval plus this
READY_PARTS = ("frontend", "backend", "browser")


class Target(BaseModel):
    name: str
    value: float
    limit: float
    comparison: Literal["<=", ">="]
    unit: str
    met: bool


def judge(name: str, value: float, comparison: Literal["<=", ">="], limit: float, unit: str) -> Target:
    met = value <= limit if comparison == "<=" else value >= limit
    return Target(name=name, value=value, limit=limit, comparison=comparison, unit=unit, met=met)


class StartupFigures(BaseModel):
    """Seconds from spawning the process until backend, frontend and browser are all ready."""

    harness: Summary
    bare: Summary
    harness_steps: dict[str, float]
    """Median seconds from spawn to each step: pytest configured, collected, each part ready, first page."""
    bare_steps: dict[str, float]


class StepComparison(BaseModel):
    """One step of a flow, median seconds on each side (None: that side has no such step)."""

    step: str
    harness_s: float | None
    bare_s: float | None


class OverheadFigures(BaseModel):
    """Per-test wall time of the happy path: harness (setup + call + teardown) against the bare script."""

    harness: Summary
    bare: Summary
    ratio: float
    """median(harness) / median(bare)."""
    round_ratios: list[float]
    """The same ratio within each round (one harness batch, one bare batch): the spread shows noise."""
    harness_phases: dict[str, float]
    bare_phases: dict[str, float]
    harness_fixtures: dict[str, float]
    """Median set-up seconds of each per-test fixture, largest first."""
    steps: list[StepComparison]
    """Harness and bare side by side, step by step (medians of each step: they need not add up)."""


class SuiteRun(BaseModel):
    wall_s: float
    cpu_s: float
    """CPU time of the run's whole process tree (pytest, workers, drivers, browsers)."""
    exit_code: int
    summary: str = ""
    """pytest's last line, e.g. "29 passed, 1 deselected in 34.13s"."""


class SuiteFigures(BaseModel):
    command: str
    serial: list[SuiteRun]
    parallel: list[SuiteRun]
    speedup: float
    """median(serial wall) / median(-n 2 wall)."""
    serial_cores_busy: float
    """CPU time / wall time of the serial run: how many CPUs it already kept busy on its own."""
    parallel_cores_busy: float
    speedup_ceiling: float
    """serial wall / (the -n 2 run's CPU time / CPUs): the speed-up if -n 2 were limited by CPU alone."""


class LatencyFigures(BaseModel):
    poll_interval_s: float
    after_write: Summary
    """From `run.progress()` returning (state in Redis) to the text on the page: the latency."""
    before_write: Summary
    """From just before `run.progress()` was called: an upper bound, used for the target."""
    clock_offset_s: float
    clock_offset_uncertainty_s: float
    target_s: float


class MemoryFigures(BaseModel):
    harness_process_peak_mb: float
    """Peak RSS of the pytest process (ru_maxrss), the largest over the harness batches."""
    harness_browser: TreeMemory
    bare_process_peak_mb: float
    bare_browser: TreeMemory


class Results(BaseModel):
    schema_version: int = SCHEMA_VERSION
    started_at: str
    duration_s: float
    settings: dict[str, int | float | bool]
    machine: MachineInfo
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    background_cpu: dict[str, float]
    """Share of all CPUs other work used while each section was measured (the noise behind it)."""
    settle_waited_s: float
    """Seconds spent waiting for a quiet machine before measuring (`--settle`)."""
    startup: StartupFigures
    overhead: OverheadFigures
    suite: SuiteFigures | None
    latency: list[LatencyFigures]
    memory: MemoryFigures
    load: LoadFigures | None = None
    """Concurrent streams and POSTs against the API in its own process (`bench/load.py`); None if skipped."""
    targets: list[Target]
    notes: list[str]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n")


# --- building the figures ------------------------------------------------------------------------


def _median_by_key(dicts: Iterable[dict[str, float]]) -> dict[str, float]:
    values: dict[str, list[float]] = {}
    for entry in dicts:
        for key, value in entry.items():
            values.setdefault(key, []).append(value)
    return {key: statistics.median(samples) for key, samples in values.items()}


def steady(batch: BatchRecord) -> list[IterationTiming]:
    """A batch's flows without its warm-up (the first: session set-up, cold page), and for pytest also
    without the last test, whose teardown closes the session (browser, servers)."""
    return batch.iterations[1:-1] if batch.kind == "harness" else batch.iterations[1:]


def steady_walls(batch: BatchRecord) -> list[float]:
    return [iteration.wall_s for iteration in steady(batch)]


def ready_s(batch: BatchRecord, spawned_at: float) -> float:
    missing = [part for part in READY_PARTS if part not in batch.ready_at]
    if missing:
        raise ValueError(f"{batch.kind} batch never reported {missing} ready: {batch.ready_at!r}")
    return max(batch.ready_at[part] for part in READY_PARTS) - spawned_at


def startup_figures(
    harness: Sequence[tuple[BatchRecord, float]], bare: Sequence[tuple[BatchRecord, float]]
) -> StartupFigures:
    """Each pair is (record, the wall-clock time its process was spawned)."""

    def steps(pairs: Sequence[tuple[BatchRecord, float]]) -> dict[str, float]:
        per_batch = [
            {**{step: at - spawned for step, at in batch.ready_at.items()}, "first_page": batch.first_flow_at - spawned}
            for batch, spawned in pairs
        ]
        return dict(sorted(_median_by_key(per_batch).items(), key=lambda item: item[1]))

    return StartupFigures(
        harness=summarize([ready_s(batch, spawned) for batch, spawned in harness]),
        bare=summarize([ready_s(batch, spawned) for batch, spawned in bare]),
        harness_steps=steps(harness),
        bare_steps=steps(bare),
    )


# Bare flow phases that match a harness fixture of the same name (see `bench.flow.run_flow`).
MATCHED_FIXTURES = ("context", "page", "new_draft")


def _harness_steps(iteration: IterationTiming) -> dict[str, float]:
    fixtures, phases = iteration.fixtures, iteration.phases
    matched = sum(fixtures.get(name, 0.0) for name in MATCHED_FIXTURES)
    evidence = fixtures.get("gate_evidence", 0.0)
    in_fixtures = sum(fixtures.values())
    setup, call, teardown = phases.get("setup", 0.0), phases.get("call", 0.0), phases.get("teardown", 0.0)
    return {
        **{name: fixtures.get(name, 0.0) for name in MATCHED_FIXTURES},
        "gate_evidence": evidence,
        "other fixtures": in_fixtures - matched - evidence,
        "pytest set-up outside fixtures": setup - in_fixtures,
        "test body": call,
        "teardown": teardown,
        "pytest reporting hooks": iteration.wall_s - setup - call - teardown,
        "total": iteration.wall_s,
    }


def _bare_steps(iteration: IterationTiming) -> dict[str, float]:
    return {
        **{name: iteration.phases.get(name, 0.0) for name in MATCHED_FIXTURES},
        "test body": iteration.phases.get("flow", 0.0),
        "teardown": iteration.phases.get("close", 0.0),
        "total": iteration.wall_s,
    }


def step_comparison(harness: Sequence[IterationTiming], bare: Sequence[IterationTiming]) -> list[StepComparison]:
    harness_steps = _median_by_key(_harness_steps(it) for it in harness)
    bare_steps = _median_by_key(_bare_steps(it) for it in bare)
    return [
        StepComparison(step=step, harness_s=value, bare_s=bare_steps.get(step)) for step, value in harness_steps.items()
    ]


def overhead_figures(rounds: Sequence[tuple[BatchRecord, BatchRecord]]) -> OverheadFigures:
    """`rounds`: (harness batch, bare batch) pairs run back to back."""
    harness_walls = [wall for harness, _ in rounds for wall in steady_walls(harness)]
    bare_walls = [wall for _, bare in rounds for wall in steady_walls(bare)]
    harness, bare = summarize(harness_walls), summarize(bare_walls)
    round_ratios = [ratio(statistics.median(steady_walls(h)), statistics.median(steady_walls(b))) for h, b in rounds]
    harness_steady = [it for h, _ in rounds for it in steady(h)]
    bare_steady = [it for _, b in rounds for it in steady(b)]
    fixtures = _median_by_key(it.fixtures for it in harness_steady)
    return OverheadFigures(
        harness=harness,
        bare=bare,
        ratio=ratio(harness.median, bare.median),
        round_ratios=round_ratios,
        harness_phases=_median_by_key(it.phases for it in harness_steady),
        bare_phases=_median_by_key(it.phases for it in bare_steady),
        harness_fixtures=dict(sorted(fixtures.items(), key=lambda item: -item[1])),
        steps=step_comparison(harness_steady, bare_steady),
    )


def suite_figures(command: str, serial: Sequence[SuiteRun], parallel: Sequence[SuiteRun], nproc: int) -> SuiteFigures:
    serial_wall = statistics.median(run.wall_s for run in serial)
    parallel_wall = statistics.median(run.wall_s for run in parallel)
    serial_cpu = statistics.median(run.cpu_s for run in serial)
    parallel_cpu = statistics.median(run.cpu_s for run in parallel)
    return SuiteFigures(
        command=command,
        serial=list(serial),
        parallel=list(parallel),
        speedup=ratio(serial_wall, parallel_wall),
        serial_cores_busy=ratio(serial_cpu, serial_wall),
        parallel_cores_busy=ratio(parallel_cpu, parallel_wall),
        speedup_ceiling=ratio(serial_wall, parallel_cpu / nproc),
    )


def latency_figures(record: LatencyRecord) -> LatencyFigures:
    if not record.samples:
        raise ValueError(f"no latency samples at poll {record.poll_interval_s} s")
    return LatencyFigures(
        poll_interval_s=record.poll_interval_s,
        after_write=summarize([s.on_page - s.after_write for s in record.samples]),
        before_write=summarize([s.on_page - s.before_write for s in record.samples]),
        clock_offset_s=record.clock_offset_s,
        clock_offset_uncertainty_s=record.clock_offset_uncertainty_s,
        target_s=record.poll_interval_s + LATENCY_SLACK_S,
    )


def memory_figures(harness: Sequence[BatchRecord], bare: Sequence[BatchRecord]) -> MemoryFigures:
    def biggest_browser(batches: Sequence[BatchRecord]) -> TreeMemory:
        return max((batch.browser for batch in batches), key=lambda tree: tree.peak_rss_sum_mb)

    return MemoryFigures(
        harness_process_peak_mb=max(batch.peak_rss_mb for batch in harness),
        harness_browser=biggest_browser(harness),
        bare_process_peak_mb=max(batch.peak_rss_mb for batch in bare),
        bare_browser=biggest_browser(bare),
    )


def targets_for(
    overhead: OverheadFigures, suite: SuiteFigures | None, latency: Sequence[LatencyFigures]
) -> list[Target]:
    targets = [judge("per-test overhead (harness / bare)", overhead.ratio, "<=", OVERHEAD_LIMIT, "x")]
    if suite is not None:
        targets.append(judge("e2e suite speed-up (serial / -n 2)", suite.speedup, ">=", SPEEDUP_LIMIT, "x"))
    for figures in latency:
        targets.append(
            judge(
                f"event latency p95 at poll {figures.poll_interval_s:g} s",
                figures.before_write.p95,
                "<=",
                figures.target_s,
                "s",
            )
        )
    return targets
