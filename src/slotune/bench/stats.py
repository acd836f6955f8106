"""Bootstrap confidence intervals for the statistics a run reports (seeded, so reruns print the same)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Resamples x sample size bounded per batch so memory stays small on long runs (pooled ITL gaps).
_MAX_BATCH_ELEMENTS = 4_000_000
_MAX_TOTAL_ELEMENTS = 20_000_000
_MAX_SAMPLE = 100_000


def _stat(arr: np.ndarray, stat: str) -> np.ndarray:
    if stat == "mean":
        return arr.mean(axis=-1)
    return np.percentile(arr, float(stat[1:]), axis=-1)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: str,
    *,
    seed: int,
    num_resamples: int = 1000,
    confidence: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `stat` ("mean" or "pNN"); None with fewer than 2 values."""
    arr = np.asarray(values, dtype=float)
    n = arr.size
    if n < 2:
        return None
    # Bound the work (resamples x sample size): large samples already give tight intervals.
    num_resamples = int(min(num_resamples, max(100, _MAX_TOTAL_ELEMENTS // n)))
    rng = np.random.default_rng([seed, 11])
    if n > _MAX_SAMPLE:
        # Bootstrap a random subsample: the interval comes out somewhat wider than the full sample's,
        # never narrower, and the work stays bounded on runs with millions of chunk gaps.
        arr = rng.choice(arr, size=_MAX_SAMPLE, replace=False)
        n = _MAX_SAMPLE
    rows = max(1, _MAX_BATCH_ELEMENTS // n)
    estimates: list[np.ndarray] = []
    done = 0
    while done < num_resamples:
        k = min(rows, num_resamples - done)
        idx = rng.integers(0, n, size=(k, n))
        estimates.append(_stat(arr[idx], stat))
        done += k
    est = np.concatenate(estimates)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(est, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def intervals(
    values: Sequence[float] | np.ndarray, *, seed: int, stats: tuple[str, ...] = ("mean", "p50", "p90", "p99")
) -> dict[str, list[float] | None]:
    out: dict[str, list[float] | None] = {}
    for stat in stats:
        ci = bootstrap_ci(values, stat, seed=seed)
        out[stat] = None if ci is None else [ci[0], ci[1]]
    return out
