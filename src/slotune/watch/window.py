"""SLO attainment over a window from two scrapes of a vLLM server: the difference of cumulative histograms.

A request within the threshold is one counted in the bucket whose upper edge is the threshold (slotune.watch.shares
between edges). TTFT and E2E are judged as clients see them where the server's HTTP histogram tells how much time
vLLM's own histograms leave out (slotune.watch.client_view); ITL and TPOT as vLLM counts them.
"""

from __future__ import annotations

from slotune.bench.server_metrics import Snapshot
from slotune.deploy.monitoring.series import SLO_HISTOGRAMS
from slotune.models.slo import SLO, SLOTarget
from slotune.models.watch import EngineStatus, TermStatus, Verdict, WindowStatus
from slotune.slo import format_slo
from slotune.vllm_metrics import names as vllm_names
from slotune.watch.client_view import SHIFTED_METRICS, client_share, outside_engine_s
from slotune.watch.shares import share_at_edges

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


def term_status(target: SLOTarget, before: Snapshot, after: Snapshot, outside_s: float | None) -> TermStatus:
    """One term over the window; TTFT and E2E as clients see them when outside_s (the API server's time that
    vLLM's histograms leave out) is known."""
    histogram = SLO_HISTOGRAMS[target.metric]
    text = term_text(target)
    events = _delta(before, after, histogram + "_count") or 0.0
    shift = outside_s if target.metric in SHIFTED_METRICS else None
    if target.percentile is None:  # a mean
        total = _delta(before, after, histogram + "_sum")
        mean = total / events if events and total is not None else None
        if mean is not None and shift is not None:
            mean += shift
        return TermStatus(
            term=text, events=events, mean_s=mean, met=None if mean is None else mean <= target.threshold
        )
    objective = target.percentile / 100
    buckets = bucket_deltas(before, after, histogram)
    server = share_at_edges(buckets, target.threshold)
    if server is None:
        return TermStatus(term=text, events=events, objective=objective)
    share = server if shift is None else client_share(buckets, target.threshold, shift)
    assert share is not None  # the buckets hold events
    return TermStatus(
        term=text,
        events=events,
        attainment=share.value,
        attainment_low=share.low,
        attainment_high=share.high,
        server_attainment=None if shift is None else server.value,
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


def window_status(
    window: str, slo: SLO | None, before: Snapshot | None, after: Snapshot, *, client_view: bool = True
) -> WindowStatus:
    """The window from `before` to `after`; before None: since the server started (its counters' whole life).
    client_view False judges every term as vLLM's histograms count it."""
    targets = [t for t in slo.targets if t.is_latency] if slo is not None else []
    span = None if before is None else after.time_s - before.time_s
    if before is None:
        before = Snapshot(time_s=after.time_s)
    outside = outside_engine_s(before, after) if client_view else None
    return WindowStatus(
        window=window,
        span_s=span,
        outside_engine_s=outside,
        terms=tuple(term_status(t, before, after, outside) for t in targets),
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
