"""One summary of a run, the same for simulated and measured runs (definitions in docs/slo.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from pydantic import Field

from slotune.metrics.distribution import Distribution, statistic
from slotune.models.base import Frozen
from slotune.models.records import RequestRecord
from slotune.models.slo import SLO
from slotune.slo.evaluate import request_meets_slo

_INF = float("inf")


class TargetResult(Frozen):
    metric: str
    stat: str
    threshold: float
    observed: float | None
    passed: bool


class RunSummary(Frozen):
    num_requests: int
    num_ok: int
    num_failed: int
    failures_by_reason: dict[str, int] = Field(default_factory=dict)
    duration_s: float
    request_throughput_rps: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    prompt_tokens: int
    cached_prompt_tokens: int
    output_tokens: int
    num_preemptions: int
    ttft_s: Distribution
    itl_s: Distribution
    tpot_s: Distribution
    e2e_s: Distribution
    slo_name: str | None = None
    slo_attainment: float | None = None
    attainment_target: float | None = None
    goodput_rps: float | None = None
    goodput_output_tokens_per_s: float | None = None
    targets: tuple[TargetResult, ...] = ()
    usd_per_mtok: float | None = None
    slo_met: bool | None = None


def _usd_per_mtok(output_tokens_per_s: float, usd_per_hour: float | None) -> float | None:
    if usd_per_hour is None or output_tokens_per_s <= 0:
        return None
    return usd_per_hour / (output_tokens_per_s * 3600.0) * 1e6


def summarize(
    records: Iterable[RequestRecord],
    *,
    duration_s: float,
    slo: SLO | None = None,
    usd_per_hour: float | None = None,
) -> RunSummary:
    """Summarize finished requests over a measured window of `duration_s` seconds.

    Failed requests (errors, timeouts, rejections, aborts) are kept: they count in `num_requests`, never
    meet the SLO, and enter each target's percentile as +inf, so failures can only make a run look worse.
    `usd_per_hour` is the price of the whole deployment (all GPUs), for the cost figure.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    ttft: list[float] = []
    tpot: list[float] = []
    e2e: list[float] = []
    itl_parts: list[np.ndarray] = []
    failures: Counter[str] = Counter()
    n = n_ok = prompt = cached = output = preemptions = 0
    meets = meets_tokens = 0
    slo_ttft: list[float] = []
    slo_e2e: list[float] = []
    slo_tpot: list[float] = []
    for r in records:
        n += 1
        preemptions += r.num_preemptions
        if slo is not None and request_meets_slo(r, slo):
            meets += 1
            meets_tokens += r.output_tokens
        if not r.ok:
            failures["error" if r.finish_reason in ("length", "stop") else r.finish_reason] += 1
            slo_ttft.append(_INF)
            slo_e2e.append(_INF)
            slo_tpot.append(_INF)
            continue
        n_ok += 1
        prompt += r.prompt_tokens
        cached += r.cached_prompt_tokens
        output += r.output_tokens
        if (v := r.ttft_s) is not None:
            ttft.append(v)
            slo_ttft.append(v)
        if (v := r.e2e_s) is not None:
            e2e.append(v)
            slo_e2e.append(v)
        if (v := r.tpot_s) is not None:
            tpot.append(v)
            slo_tpot.append(v)
        if len(r.chunk_times_s) > 1:
            itl_parts.append(np.diff(np.asarray(r.chunk_times_s, dtype=float)))
    itl = np.concatenate(itl_parts) if itl_parts else np.empty(0)
    out_tps = output / duration_s
    summary = RunSummary(
        num_requests=n,
        num_ok=n_ok,
        num_failed=n - n_ok,
        failures_by_reason=dict(sorted(failures.items())),
        duration_s=duration_s,
        request_throughput_rps=n_ok / duration_s,
        output_tokens_per_s=out_tps,
        total_tokens_per_s=(prompt + output) / duration_s,
        prompt_tokens=prompt,
        cached_prompt_tokens=cached,
        output_tokens=output,
        num_preemptions=preemptions,
        ttft_s=Distribution.of(ttft),
        itl_s=Distribution.of(itl),
        tpot_s=Distribution.of(tpot),
        e2e_s=Distribution.of(e2e),
        usd_per_mtok=_usd_per_mtok(out_tps, usd_per_hour),
    )
    if slo is None:
        return summary
    by_metric = {"ttft": slo_ttft, "e2e": slo_e2e, "tpot": slo_tpot, "itl": itl}
    results = []
    for t in slo.targets:
        if t.is_latency:
            observed = statistic(by_metric[t.metric], t.stat)
            passed = observed is not None and observed <= t.threshold
        elif t.metric == "throughput":
            observed, passed = out_tps, out_tps >= t.threshold
        else:
            observed = summary.usd_per_mtok
            passed = observed is not None and observed <= t.threshold
        results.append(
            TargetResult(
                metric=t.metric, stat=t.stat, threshold=t.threshold, observed=observed, passed=passed
            )
        )
    attainment = meets / n if n else 0.0
    return summary.model_copy(
        update={
            "slo_name": slo.name,
            "slo_attainment": attainment,
            "attainment_target": slo.attainment_target,
            "goodput_rps": meets / duration_s,
            "goodput_output_tokens_per_s": meets_tokens / duration_s,
            "targets": tuple(results),
            "slo_met": n > 0 and attainment >= slo.attainment_target and all(r.passed for r in results),
        }
    )
