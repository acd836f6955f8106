"""Arrival processes: inter-arrival gaps and arrival times drawn from a seeded generator.

Gaps are drawn from the exact distribution and never clipped or rescaled, so the mean rate is the one
asked for: a Poisson generator that clips its gaps at, say, 3 sigma raises the rate by ~5%; one that rescales
the gaps so that N requests take exactly N / rate conditions the process on its own sum. Randomness comes
only from the generator passed in (the caller seeds it).
"""

from __future__ import annotations

import math

import numpy as np

# The drawn processes ("trace", the workload's own gaps, is built in slotune.load.schedule).
DRAWN_ARRIVALS: tuple[str, ...] = ("poisson", "gamma", "constant")


def interarrival_gaps_s(
    rng: np.random.Generator, n: int, *, rate_rps: float, kind: str, cv: float | None = None
) -> np.ndarray:
    """n gaps with mean 1/rate: gamma has shape k = 1/cv^2 and scale 1/(rate k), so std cv/rate (cv 1 is
    Poisson)."""
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
    """Arrival times from t = 0 (the first request arrives at 0): `num_requests` of them, or every one in
    [0, duration_s). Constant arrivals are i / rate, computed by multiplication so long runs do not drift."""
    if num_requests is not None:
        if kind == "constant":
            return np.arange(num_requests) / rate_rps
        gaps = interarrival_gaps_s(rng, max(num_requests - 1, 0), rate_rps=rate_rps, kind=kind, cv=cv)
        return np.concatenate(([0.0], np.cumsum(gaps)))
    if duration_s is None:
        raise ValueError("give num_requests or duration_s")
    if kind == "constant":
        times = np.arange(math.ceil(duration_s * rate_rps) + 1) / rate_rps
        return times[times < duration_s]
    # Gaps in chunks until the horizon is passed. A generator's draws continue where its last call stopped,
    # so the chunk size changes only how many values are consumed past the horizon; it stays fixed because
    # synthesis draws request lengths from the same generator afterwards.
    parts = [np.zeros(1)]
    last = 0.0
    chunk = max(1024, int(rate_rps * duration_s * 1.1) + 16)
    while last < duration_s:
        t = last + np.cumsum(interarrival_gaps_s(rng, chunk, rate_rps=rate_rps, kind=kind, cv=cv))
        parts.append(t)
        last = float(t[-1])
    all_t = np.concatenate(parts)
    return all_t[all_t < duration_s]
