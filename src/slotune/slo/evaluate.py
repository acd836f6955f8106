"""Per-request "meets SLO", defined once for every backend (see docs/slo.md).

A request meets the SLO when it finished without error (finish reason "length" or "stop") and each of its own
latencies is within every latency target's threshold:
  ttft  its time to first token;
  e2e   its end-to-end latency;
  tpot  its (E2E - TTFT) / (output_tokens - 1); a one-token answer has no TPOT and passes;
  itl   the target's statistic (pNN or mean) over its own chunk gaps; no gaps passes.
The target's percentile is applied across requests by `slotune.metrics.summarize`; the per-request check
uses the threshold alone (for itl, the request's own percentile of its gaps).
"""

from __future__ import annotations

import numpy as np

from slotune.models.records import RequestRecord
from slotune.models.slo import SLO, SLOTarget


def _own_itl_stat(record: RequestRecord, target: SLOTarget) -> float | None:
    times = record.chunk_times_s
    if len(times) < 2:
        return None
    gaps = np.diff(np.asarray(times, dtype=float))
    if target.stat == "mean":
        return float(gaps.mean())
    return float(np.percentile(gaps, target.percentile or 50.0))


def request_value(record: RequestRecord, target: SLOTarget) -> float | None:
    """The request's own value for a latency target; None where the metric does not apply."""
    if target.metric == "ttft":
        return record.ttft_s
    if target.metric == "e2e":
        return record.e2e_s
    if target.metric == "tpot":
        return record.tpot_s
    if target.metric == "itl":
        return _own_itl_stat(record, target)
    return None


def missed_targets(record: RequestRecord, slo: SLO) -> tuple[int, ...]:
    """Positions in `slo.targets` of the latency targets this request misses: every one if it failed."""
    latency = [i for i, t in enumerate(slo.targets) if t.is_latency]
    if not record.ok:
        return tuple(latency)
    missed = []
    for i in latency:
        target = slo.targets[i]
        value = request_value(record, target)
        if value is None:
            if target.metric in ("ttft", "e2e"):
                missed.append(i)  # a finished request always has these; missing means it was not measured
            continue
        if value > target.threshold:
            missed.append(i)
    return tuple(missed)


def request_meets_slo(record: RequestRecord, slo: SLO) -> bool:
    return not missed_targets(record, slo)
