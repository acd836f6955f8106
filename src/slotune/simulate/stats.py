"""What happens to finished requests: kept as RequestRecords, or folded into bounded streaming statistics.

Streaming mode keeps, per latency metric, a mergeable log-bucketed quantile sketch (the DDSketch construction:
bucket i holds values in (g^(i-1), g^i] with g = (1 + a) / (1 - a)) plus exact count, sum, min and max. A
percentile is read as the bucket holding the order statistic at rank q (n - 1), reported at the bucket's
midpoint 2 g^i / (g + 1), which is within relative error `a` (default 0.5%) of every value in the bucket.
Memory is fixed (about 3,000 counters per metric) whatever the number of requests.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np

from slotune.metrics.summary import with_slo
from slotune.models import SLO, Distribution, RequestRecord, RunSummary
from slotune.simulate.request_state import SimRequest
from slotune.slo.evaluate import missed_targets

_MIN_VALUE_S = 1e-7
_MAX_VALUE_S = 1e6


def build_record(req: SimRequest, times: np.ndarray, tokens: tuple[int, ...]) -> RequestRecord:
    return RequestRecord.model_construct(
        request_id=req.request_id,
        arrival_s=req.arrival_s,
        scheduled_s=req.scheduled_s,
        first_token_s=req.first_token_s,
        finish_s=req.finish_s,
        chunk_times_s=tuple(times.tolist()),
        chunk_tokens=tokens,
        finish_reason=req.finish_reason,
        prompt_tokens=req.prompt_tokens,
        cached_prompt_tokens=req.cached_prompt_tokens or 0,
        output_tokens=req.num_output,
        num_preemptions=req.num_preemptions,
        error=None if req.finish_reason != "rejected" else "prompt + max_tokens exceeds max_model_len",
    )


class QuantileSketch:
    def __init__(self, relative_accuracy: float = 0.005) -> None:
        self.relative_accuracy = relative_accuracy
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self._offset = math.ceil(math.log(_MIN_VALUE_S) / self._log_gamma)
        size = math.ceil(math.log(_MAX_VALUE_S) / self._log_gamma) - self._offset + 1
        self.counts = np.zeros(size, dtype=np.int64)
        self.count = 0
        self.num_inf = 0  # failed requests: +inf in a target's percentile
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def _index(self, values: np.ndarray) -> np.ndarray:
        clipped = np.clip(values, _MIN_VALUE_S, _MAX_VALUE_S)
        idx = np.ceil(np.log(clipped) / self._log_gamma).astype(np.int64) - self._offset
        return np.clip(idx, 0, len(self.counts) - 1)

    def add_many(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        self.counts += np.bincount(self._index(values), minlength=len(self.counts))
        self.count += int(values.size)
        self.total += float(values.sum())
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))

    def add(self, value: float) -> None:
        self.add_many(np.array([value]))

    def merge(self, other: QuantileSketch) -> None:
        self.counts += other.counts
        self.count += other.count
        self.num_inf += other.num_inf
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float, *, with_inf: bool = False) -> float | None:
        """Value at rank q (n - 1) among the finite values (and +inf failures when with_inf)."""
        n = self.count + (self.num_inf if with_inf else 0)
        if n == 0:
            return None
        rank = q * (n - 1)
        if rank >= self.count:
            return math.inf
        target = math.floor(rank)
        cumulative = np.cumsum(self.counts)
        i = int(np.searchsorted(cumulative, target, side="right"))
        value = 2 * self._gamma ** (i + self._offset) / (self._gamma + 1)
        return min(max(value, self.min), self.max)

    def distribution(self) -> Distribution:
        if self.count == 0:
            return Distribution(count=0)
        return Distribution(
            count=self.count,
            mean=self.total / self.count,
            min=self.min,
            p50=self.quantile(0.50),
            p90=self.quantile(0.90),
            p95=self.quantile(0.95),
            p99=self.quantile(0.99),
            max=self.max,
        )

    def statistic(self, stat: str) -> float | None:
        """ "mean" or "pNN" with failures (+inf) taking part, like slotune.metrics.statistic."""
        if stat == "mean":
            if self.num_inf:
                return math.inf
            return self.total / self.count if self.count else None
        return self.quantile(float(stat[1:]) / 100, with_inf=True)


class RecordCollector:
    """Full mode: every finished request becomes a RequestRecord. `on_record` sees each one as it finishes; an
    exception it raises ends the simulation (a caller that already knows the verdict stops early)."""

    def __init__(self, on_record: Callable[[RequestRecord], None] | None = None) -> None:
        self.records: list[RequestRecord] = []
        self.on_record = on_record

    def finish(self, req: SimRequest, times: np.ndarray, tokens: tuple[int, ...]) -> None:
        record = build_record(req, times, tokens)
        self.records.append(record)
        if self.on_record is not None:
            self.on_record(record)


class StreamingStats:
    """Streaming mode: running statistics only; memory does not grow with the number of requests.
    Latencies are buffered and folded into the sketches in batches (adding one value at a time costs a numpy
    call per value)."""

    _FLUSH_VALUES = 1 << 16

    def __init__(self, slo: SLO | None = None, relative_accuracy: float = 0.005) -> None:
        self.slo = slo
        self.ttft = QuantileSketch(relative_accuracy)
        self.itl = QuantileSketch(relative_accuracy)
        self.tpot = QuantileSketch(relative_accuracy)
        self.e2e = QuantileSketch(relative_accuracy)
        self._ttft: list[float] = []
        self._e2e: list[float] = []
        self._tpot: list[float] = []
        self._itl: list[np.ndarray] = []
        self._buffered = 0
        self.num_requests = 0
        self.num_ok = 0
        self.failures: Counter[str] = Counter()
        self.prompt_tokens = 0
        self.cached_prompt_tokens = 0
        self.output_tokens = 0
        self.num_preemptions = 0
        self.meets = 0
        self.meets_tokens = 0
        self.missed_by_target = [0] * (len(slo.targets) if slo is not None else 0)

    def finish(self, req: SimRequest, times: np.ndarray, tokens: tuple[int, ...]) -> None:
        self.num_requests += 1
        self.num_preemptions += req.num_preemptions
        if self.slo is not None:
            missed = missed_targets(build_record(req, times, tokens), self.slo)
            for i in missed:
                self.missed_by_target[i] += 1
            if not missed:
                self.meets += 1
                self.meets_tokens += req.num_output
        if req.finish_reason not in ("length", "stop"):
            self.failures[req.finish_reason] += 1
            for sketch in (self.ttft, self.e2e, self.tpot):
                sketch.num_inf += 1
            return
        self.num_ok += 1
        self.prompt_tokens += req.prompt_tokens
        self.cached_prompt_tokens += req.cached_prompt_tokens or 0
        self.output_tokens += req.num_output
        assert req.first_token_s is not None and req.finish_s is not None
        self._ttft.append(req.first_token_s - req.arrival_s)
        self._e2e.append(req.finish_s - req.arrival_s)
        if req.num_output >= 2:
            self._tpot.append((req.finish_s - req.first_token_s) / (req.num_output - 1))
        if len(times) > 1:
            self._itl.append(times)
            self._buffered += len(times)
        if self._buffered + len(self._ttft) >= self._FLUSH_VALUES:
            self.flush()

    def flush(self) -> None:
        for sketch, values in ((self.ttft, self._ttft), (self.e2e, self._e2e), (self.tpot, self._tpot)):
            if values:
                sketch.add_many(np.asarray(values))
                values.clear()
        if self._itl:
            self.itl.add_many(np.concatenate([np.diff(t) for t in self._itl]))
            self._itl.clear()
        self._buffered = 0

    def run_summary(self, duration_s: float) -> RunSummary:
        self.flush()
        out_tps = self.output_tokens / duration_s
        summary = RunSummary(
            num_requests=self.num_requests,
            num_ok=self.num_ok,
            num_failed=self.num_requests - self.num_ok,
            failures_by_reason=dict(sorted(self.failures.items())),
            duration_s=duration_s,
            request_throughput_rps=self.num_ok / duration_s,
            output_tokens_per_s=out_tps,
            total_tokens_per_s=(self.prompt_tokens + self.output_tokens) / duration_s,
            prompt_tokens=self.prompt_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens,
            output_tokens=self.output_tokens,
            num_preemptions=self.num_preemptions,
            ttft_s=self.ttft.distribution(),
            itl_s=self.itl.distribution(),
            tpot_s=self.tpot.distribution(),
            e2e_s=self.e2e.distribution(),
            quantile_relative_error=self.ttft.relative_accuracy,
        )
        by_metric = {"ttft": self.ttft, "e2e": self.e2e, "tpot": self.tpot, "itl": self.itl}
        return with_slo(
            summary,
            self.slo,
            statistic_of=lambda metric, stat: by_metric[metric].statistic(stat),
            num_meeting=self.meets,
            meeting_tokens=self.meets_tokens,
            num_missed=self.missed_by_target,
        )
