"""Statistics of observed arrival times (generating them is slotune.load.arrivals)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ArrivalStats:
    duration_s: float
    # 1 / mean inter-arrival gap = (n - 1) / duration: the rate a Poisson or gamma fit uses.
    mean_rate_rps: float | None
    # Most arrivals in one fixed 60 s (1 s) window counted from the first arrival; None when the
    # workload is shorter than the window.
    peak_1min_rate_rps: float | None
    peak_1s_requests: int | None
    # std / mean of inter-arrival gaps (population std): 1 for Poisson, > 1 bursty.
    interarrival_cv: float | None


def _peak_count(t_s: np.ndarray, window_s: float) -> int:
    bins = np.floor((t_s - t_s[0]) / window_s).astype(np.int64)
    return int(np.bincount(bins).max())


def arrival_stats(arrivals_s: np.ndarray) -> ArrivalStats:
    """Stats of sorted arrival times. Without spread (all equal, or one request) the rates are unknown."""
    t = np.asarray(arrivals_s, dtype=np.float64)
    duration_s = float(t[-1] - t[0]) if t.size else 0.0
    if t.size < 2 or duration_s <= 0:
        return ArrivalStats(duration_s, None, None, None, None)
    gaps = np.diff(t)
    return ArrivalStats(
        duration_s=duration_s,
        mean_rate_rps=(t.size - 1) / duration_s,
        peak_1min_rate_rps=_peak_count(t, 60.0) / 60.0 if duration_s >= 60.0 else None,
        peak_1s_requests=_peak_count(t, 1.0) if duration_s >= 1.0 else None,
        interarrival_cv=float(gaps.std() / gaps.mean()),
    )
