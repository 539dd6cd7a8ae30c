"""Summary statistics of timing samples: pure functions, no I/O."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pydantic import BaseModel


class Summary(BaseModel):
    """Seconds (or whatever unit the samples are in): count, median, 95th percentile, extremes."""

    n: int
    median: float
    p95: float
    min: float
    max: float


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1), linear between closest ranks (numpy's default, 'inclusive')."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction!r}")
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    # statistics.quantiles cuts into equal parts only; 1000 parts gives every 0.1 % step and uses
    # the same 'inclusive' interpolation, so p95 of [0..100] is 95.
    cuts = statistics.quantiles(ordered, n=1000, method="inclusive")
    if fraction == 0.0:
        return ordered[0]
    if fraction == 1.0:
        return ordered[-1]
    return cuts[round(fraction * 1000) - 1]


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("cannot summarize an empty list of samples")
    return Summary(
        n=len(samples),
        median=statistics.median(samples),
        p95=percentile(samples, 0.95),
        min=min(samples),
        max=max(samples),
    )


def ratio(numerator: float, denominator: float) -> float:
    """`numerator / denominator`, refusing a zero or negative denominator with the values in the message."""
    if denominator <= 0:
        raise ValueError(f"ratio {numerator!r} / {denominator!r}: the denominator must be positive")
    return numerator / denominator
