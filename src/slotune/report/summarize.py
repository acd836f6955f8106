"""Timelines averaged into a few hundred buckets before plotting, so a report stays small whatever the run's
length (the simulator keeps up to 20,000 engine-step samples)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slotune.models import Distribution, StepSample
from slotune.models.reports import CdfPoints

# About one point per pixel of a figure: more only costs the browser time.
MAX_TIMELINE_POINTS = 300


def cdf_from_distribution(d: Distribution) -> CdfPoints:
    """The few points a summary keeps (min, p50, p90, p95, p99, max): a CDF when no plot data was saved."""
    known = [
        (p, x)
        for p, x in ((0.0, d.min), (0.5, d.p50), (0.9, d.p90), (0.95, d.p95), (0.99, d.p99), (1.0, d.max))
        if x is not None
    ]
    return CdfPoints(count=d.count, p=tuple(p for p, _ in known), value_s=tuple(float(x) for _, x in known))


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    time_s: float
    kv_usage_mean: float
    kv_usage_max: float
    num_running: float
    num_waiting: float
    tokens_per_s: float  # prefill + decode tokens the engine processed per second of the bucket


def _bucket(samples: Sequence[StepSample]) -> TimelinePoint:
    durations = np.array([s.duration_s for s in samples])
    total = float(durations.sum())
    weights = durations if total > 0 else np.ones(len(samples))

    def mean(values: list[float]) -> float:
        return float(np.average(values, weights=weights))

    tokens = sum(s.num_prefill_tokens + s.num_decode_tokens for s in samples)
    return TimelinePoint(
        time_s=samples[0].time_s,
        kv_usage_mean=mean([s.kv_usage for s in samples]),
        kv_usage_max=max(s.kv_usage for s in samples),
        num_running=mean([s.num_running for s in samples]),
        num_waiting=mean([s.num_waiting for s in samples]),
        tokens_per_s=tokens / total if total > 0 else 0.0,
    )


def downsample_timeline(
    samples: Sequence[StepSample], max_points: int = MAX_TIMELINE_POINTS
) -> list[TimelinePoint]:
    """Consecutive samples averaged (weighted by their duration) into at most `max_points` buckets."""
    if not samples:
        return []
    size = -(-len(samples) // max_points)
    return [_bucket(samples[i : i + size]) for i in range(0, len(samples), size)]
