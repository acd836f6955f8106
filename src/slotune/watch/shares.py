"""The share of a histogram's events within a threshold, from its cumulative (le, count) buckets.

At a bucket edge the share is exact; between two edges it is interpolated linearly inside the bucket (as
Prometheus's histogram_quantile does), and the shares at the two edges bound it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Share:
    value: float
    low: float
    high: float


def share_at_edges(buckets: list[tuple[float, float]], threshold: float) -> Share | None:
    """Share of events <= threshold; None with no events."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if math.isclose(le, threshold, rel_tol=1e-9, abs_tol=1e-12):
            return Share(count / total, count / total, count / total)
        if le > threshold:
            if math.isinf(le):
                return Share(prev_count / total, prev_count / total, 1.0)
            fraction = max(0.0, threshold - prev_le) / (le - prev_le)
            value = prev_count + (count - prev_count) * fraction
            return Share(value / total, prev_count / total, count / total)
        prev_le, prev_count = le, count
    return Share(1.0, 1.0, 1.0)
