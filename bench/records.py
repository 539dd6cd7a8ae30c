"""What each measuring subprocess hands back to `bench/run.py` (one JSON file per batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from bench.machine import TreeMemory


class IterationTiming(BaseModel):
    """One happy-path flow: its wall time and where that time went (phase -> seconds)."""

    wall_s: float
    phases: dict[str, float] = Field(default_factory=dict)
    fixtures: dict[str, float] = Field(default_factory=dict)
    """Harness only: the setup time of each fixture the test set up (session ones in the first test)."""


class BatchRecord(BaseModel):
    """One process that ran the flow N times: through the harness (pytest) or the bare script."""

    kind: Literal["harness", "bare"]
    ready_at: dict[str, float]
    """Wall-clock time each part became ready: frontend, backend, browser (and pytest's own steps)."""
    first_flow_at: float
    """Wall-clock time the first flow's body began (the page open and filled)."""
    iterations: list[IterationTiming]
    peak_rss_mb: float
    browser: TreeMemory

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2))

    @classmethod
    def read(cls, path: Path) -> BatchRecord:
        return cls.model_validate_json(path.read_text())


class LatencySample(BaseModel):
    before_write: float  # time.time() just before `run.progress()` was called
    after_write: float  # time.time() just after it returned (the state is in Redis)
    on_page: float  # when the status text changed in the page, on Python's clock


class LatencyRecord(BaseModel):
    poll_interval_s: float
    clock_offset_s: float
    """Page clock minus Python clock, measured before sampling and subtracted from `on_page`."""
    clock_offset_uncertainty_s: float
    samples: list[LatencySample]

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2))

    @classmethod
    def read(cls, path: Path) -> LatencyRecord:
        return cls.model_validate_json(path.read_text())
