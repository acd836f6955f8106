"""Arrival processes: statistics of observed arrival times, and generation of synthetic ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARRIVAL_KINDS = ("poisson", "gamma", "constant")


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


def interarrival_gaps_s(
    rng: np.random.Generator, n: int, *, rate_rps: float, kind: str, cv: float | None = None
) -> np.ndarray:
    """n gaps with mean exactly 1/rate in expectation; never clipped or truncated (clipping shifts the rate).

    gamma: shape k = 1/cv^2, scale = 1/(rate k): mean 1/rate, std cv/rate. cv = 1 is Poisson.
    """
    if kind == "poisson":
        return rng.exponential(1.0 / rate_rps, size=n)
    if kind == "gamma":
        if cv is None:
            raise ValueError("gamma arrivals need a cv")
        shape = 1.0 / (cv * cv)
        return rng.gamma(shape, 1.0 / (rate_rps * shape), size=n)
    if kind == "constant":
        return np.full(n, 1.0 / rate_rps)
    raise ValueError(f"unknown arrival kind {kind!r}")


def arrival_times_s(
    rng: np.random.Generator,
    *,
    rate_rps: float,
    kind: str,
    cv: float | None = None,
    num_requests: int | None = None,
    duration_s: float | None = None,
) -> np.ndarray:
    """Arrival times from t=0 (the first request arrives at 0): a count of them, or all in [0, duration)."""
    if num_requests is not None:
        gaps = interarrival_gaps_s(rng, max(num_requests - 1, 0), rate_rps=rate_rps, kind=kind, cv=cv)
        return np.concatenate(([0.0], np.cumsum(gaps)))
    if duration_s is None:
        raise ValueError("give num_requests or duration_s")
    # Draw gaps in chunks until the horizon is passed; the draws consumed do not depend on chunk boundaries
    # being hit exactly, only on the seed, so the result is deterministic.
    times = [np.zeros(1)]
    last = 0.0
    chunk = max(1024, int(rate_rps * duration_s * 1.1) + 16)
    while last < duration_s:
        t = last + np.cumsum(interarrival_gaps_s(rng, chunk, rate_rps=rate_rps, kind=kind, cv=cv))
        times.append(t)
        last = float(t[-1])
    all_t = np.concatenate(times)
    return all_t[all_t < duration_s]
