"""SLO attainment over a window from two scrapes of a vLLM server: the difference of cumulative histograms.

A request within the threshold is one counted in the bucket whose upper edge is the threshold; when the
threshold falls between two edges the share is interpolated linearly inside that bucket (as Prometheus's
histogram_quantile does), and the shares at the two edges bound it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slotune.bench.server_metrics import Snapshot
from slotune.deploy.monitoring.series import SLO_HISTOGRAMS
from slotune.models.slo import SLO, SLOTarget
from slotune.models.watch import EngineStatus, TermStatus, Verdict, WindowStatus
from slotune.slo import format_slo
from slotune.vllm_metrics import names as vllm_names

ADMISSION_REJECTIONS_TOTAL = "vllm:admission_rejections_total"


def term_text(target: SLOTarget) -> str:
    return format_slo(SLO(targets=(target,))).split("@")[0]


def _delta(before: Snapshot, after: Snapshot, name: str) -> float | None:
    b, a = before.total(name), after.total(name)
    if a is None:
        return None
    if b is None or a < b:  # new series, or the server restarted: count from zero
        return a
    return a - b


def bucket_deltas(before: Snapshot, after: Snapshot, histogram: str) -> list[tuple[float, float]]:
    """Cumulative (le, count) of the histogram's events between the two scrapes."""
    old = dict(before.buckets(histogram))
    new = after.buckets(histogram)
    if any(count < old.get(le, 0.0) for le, count in new):
        return new  # a restart: the new server's counts are the window's
    return [(le, count - old.get(le, 0.0)) for le, count in new]


@dataclass(frozen=True, slots=True)
class Share:
    value: float
    low: float
    high: float


def share_within(buckets: list[tuple[float, float]], threshold: float) -> Share | None:
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
            fraction = (threshold - prev_le) / (le - prev_le)
            value = prev_count + (count - prev_count) * fraction
            return Share(value / total, prev_count / total, count / total)
        prev_le, prev_count = le, count
    return Share(1.0, 1.0, 1.0)


def term_status(target: SLOTarget, before: Snapshot, after: Snapshot) -> TermStatus:
    histogram = SLO_HISTOGRAMS[target.metric]
    text = term_text(target)
    events = _delta(before, after, histogram + "_count") or 0.0
    if target.percentile is None:  # a mean
        total = _delta(before, after, histogram + "_sum")
        mean = total / events if events and total is not None else None
        return TermStatus(
            term=text, events=events, mean_s=mean, met=None if mean is None else mean <= target.threshold
        )
    objective = target.percentile / 100
    share = share_within(bucket_deltas(before, after, histogram), target.threshold)
    if share is None:
        return TermStatus(term=text, events=events, objective=objective)
    return TermStatus(
        term=text,
        events=events,
        attainment=share.value,
        attainment_low=share.low,
        attainment_high=share.high,
        objective=objective,
        burn_rate=(1 - share.value) / (1 - objective),
        met=share.value >= objective,
    )


def engine_status(before: Snapshot, after: Snapshot) -> EngineStatus:
    return EngineStatus(
        running=after.total(vllm_names.NUM_REQUESTS_RUNNING),
        waiting=after.total(vllm_names.NUM_REQUESTS_WAITING),
        kv_usage=after.total(vllm_names.KV_CACHE_USAGE),
        preemptions=_delta(before, after, vllm_names.NUM_PREEMPTIONS),
        admission_rejections=_delta(before, after, ADMISSION_REJECTIONS_TOTAL),
        requests_finished=_delta(before, after, vllm_names.REQUEST_SUCCESS),
    )


def window_status(window: str, slo: SLO | None, before: Snapshot | None, after: Snapshot) -> WindowStatus:
    """The window from `before` to `after`; before None: since the server started (its counters' whole life)."""
    targets = [t for t in slo.targets if t.is_latency] if slo is not None else []
    span = None if before is None else after.time_s - before.time_s
    if before is None:
        before = Snapshot(time_s=after.time_s)
    return WindowStatus(
        window=window,
        span_s=span,
        terms=tuple(term_status(t, before, after) for t in targets),
        engine=engine_status(before, after),
    )


def verdict(status: WindowStatus) -> Verdict:
    judged = [t.met for t in status.terms if t.met is not None]
    if not judged:
        return "no_data"
    return "met" if all(judged) else "violated"


class History:
    """The scrapes of one watch, oldest first, and the snapshot a window of a given length starts at."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self.first: Snapshot | None = None
        self.snapshots: list[Snapshot] = []

    def add(self, snap: Snapshot) -> None:
        if self.first is None:
            self.first = snap
        self.snapshots.append(snap)
        while len(self.snapshots) > 2 and snap.time_s - self.snapshots[1].time_s >= self.keep_s:
            self.snapshots.pop(0)

    def start_of(self, span_s: float) -> Snapshot:
        """The latest snapshot at least span_s before the newest (the oldest kept, for a young watch)."""
        newest = self.snapshots[-1]
        chosen = self.snapshots[0]
        for snap in self.snapshots:
            if newest.time_s - snap.time_s >= span_s - 1e-9:
                chosen = snap
        return chosen
