"""Statistics of one latency metric with failures in it; the summary model is `slotune.models.Distribution`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slotune.models.distribution import Distribution

__all__ = ["Distribution", "statistic"]


_MISS = 1e30  # stands in for +inf (a failed request) so that linear interpolation stays defined


def statistic(values: Sequence[float] | np.ndarray, stat: str) -> float | None:
    """ "mean" or "pNN" of values. inf values (failed requests) take part, so failures count as misses:
    a percentile that lands on or next to a failure is inf."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return None
    if stat == "mean":
        return float(arr.mean())
    finite = np.where(np.isinf(arr), _MISS, arr)
    value = float(np.percentile(finite, float(stat[1:])))
    return float("inf") if value >= _MISS / 1e6 else value
