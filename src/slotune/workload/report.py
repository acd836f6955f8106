"""The saved workload report: `analyze`'s statistics plus the series its plots need (length histograms,
arrival rate over time, prefix reuse against the cache size), small enough to keep beside any trace."""

from __future__ import annotations

import numpy as np

from slotune.models import Workload
from slotune.models.reports import ArrivalRate, LengthHistogram, ReusePoint, WorkloadReport
from slotune.models.workload_stats import WorkloadStats
from slotune.workload.prefix_reuse import chained_prompts, lru_reuse

MAX_LENGTH_BINS = 40
MAX_RATE_BINS = 300
# Cache sizes of the reuse curve, as fractions of what an unbounded cache ends up holding.
REUSE_CACHE_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
_NICE_BIN_S = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


def length_histogram(lengths: np.ndarray, max_bins: int = MAX_LENGTH_BINS) -> LengthHistogram:
    """Integer-wide bins when the lengths span few values, else log-spaced bins (lengths span 1 to 100k+)."""
    values = np.asarray(lengths, dtype=np.float64)
    if values.size == 0:
        return LengthHistogram(edges=(), counts=())
    low, high = float(values.min()), float(values.max())
    if high - low + 1 <= max_bins:
        edges = np.arange(low, high + 2)
    else:
        edges = np.unique(np.round(np.geomspace(max(low, 1.0), high + 1, max_bins + 1)))
        edges[0] = min(edges[0], low)
    counts, edges = np.histogram(values, bins=edges)
    return LengthHistogram(edges=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts))


def arrival_rate(arrivals_s: np.ndarray, duration_s: float) -> ArrivalRate | None:
    """Arrivals per second in the smallest round bin that keeps at most MAX_RATE_BINS bins."""
    if duration_s <= 0 or len(arrivals_s) < 2:
        return None
    wanted = duration_s / MAX_RATE_BINS
    bin_s = next((b for b in _NICE_BIN_S if b >= wanted), float(np.ceil(wanted / 3600.0) * 3600.0))
    t = np.asarray(arrivals_s, dtype=np.float64)
    bins = np.floor((t - t[0]) / bin_s).astype(np.int64)
    counts = np.bincount(bins)
    return ArrivalRate(bin_s=bin_s, requests_per_s=tuple(float(c) / bin_s for c in counts))


def prefix_reuse_curve(
    workload: Workload, *, block_size: int, unbounded_cache_tokens: int
) -> list[ReusePoint]:
    chained = chained_prompts(workload, block_size)
    if chained is None or unbounded_cache_tokens <= 0:
        return []
    _, unit, prompts = chained
    points = []
    for fraction in REUSE_CACHE_FRACTIONS:
        capacity_units = max(1, round(fraction * unbounded_cache_tokens / unit))
        reuse = lru_reuse(prompts, capacity_units, unit)
        points.append(ReusePoint(cache_tokens=capacity_units * unit, hit_token_fraction=reuse.token_fraction))
    return points


def workload_report(
    workload: Workload, stats: WorkloadStats, *, block_size: int, source_path: str = ""
) -> WorkloadReport:
    requests = workload.requests
    measured_output = [r.output_tokens for r in requests if not r.is_output_estimated]
    output = measured_output or [r.output_tokens for r in requests]
    reuse = stats.prefix_reuse
    return WorkloadReport(
        stats=stats,
        source_path=source_path,
        prompt_histogram=length_histogram(np.array([r.prompt_tokens for r in requests])),
        output_histogram=length_histogram(np.array(output)),
        arrival_rate=arrival_rate(np.array([r.arrival_s for r in requests]), stats.duration_s)
        if stats.has_arrival_times
        else None,
        prefix_reuse_curve=tuple(
            prefix_reuse_curve(
                workload, block_size=block_size, unbounded_cache_tokens=reuse.unbounded_cache_tokens or 0
            )
        ),
    )
