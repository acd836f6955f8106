"""One summary of a run, the same for simulated and measured runs (definitions in docs/slo.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from slotune.cost import run_cost
from slotune.metrics.distribution import statistic
from slotune.models import SLO, Distribution, PriceUsed, RequestRecord, RunSummary, TargetResult
from slotune.slo.evaluate import missed_targets

_INF = float("inf")

# (metric, stat) -> the statistic over the run with failed requests as +inf (None: no value).
StatisticOf = Callable[[str, str], float | None]


def with_slo(
    summary: RunSummary,
    slo: SLO | None,
    *,
    statistic_of: StatisticOf,
    num_meeting: int,
    meeting_tokens: int,
    num_missed: Sequence[int] = (),
) -> RunSummary:
    """Add the SLO verdict to a summary: each target's observed statistic, attainment and goodput.

    `num_meeting` / `meeting_tokens` count the requests (and their output tokens) that met every per-request
    latency threshold; `num_missed[i]` the requests that missed target i's (slotune.slo.evaluate.missed_targets).
    The run meets the SLO when the share meeting every threshold reaches the target and every target passes."""
    if slo is None:
        return summary
    results = []
    for i, t in enumerate(slo.targets):
        observed: float | None
        if t.is_latency:
            observed = statistic_of(t.metric, t.stat)
            passed = observed is not None and observed <= t.threshold
        elif t.metric == "throughput":
            observed = summary.output_tokens_per_s
            passed = observed >= t.threshold
        else:  # cost: known only once the run is priced (with_cost)
            observed = summary.usd_per_mtok
            passed = observed is not None and observed <= t.threshold
        missed = num_missed[i] if t.is_latency and i < len(num_missed) else None
        results.append(
            TargetResult(
                metric=t.metric,
                stat=t.stat,
                threshold=t.threshold,
                observed=observed,
                passed=passed,
                num_missed=missed,
            )
        )
    n = summary.num_requests
    attainment = num_meeting / n if n else 0.0
    duration = summary.duration_s
    return summary.model_copy(
        update={
            "slo_name": slo.name,
            "slo_attainment": attainment,
            "attainment_target": slo.attainment_target,
            "goodput_rps": num_meeting / duration if duration > 0 else 0.0,
            "goodput_output_tokens_per_s": meeting_tokens / duration if duration > 0 else 0.0,
            "targets": tuple(results),
            "slo_met": _slo_met(n, attainment, slo.attainment_target, results),
        }
    )


def _slo_met(num_requests: int, attainment: float, target: float, results: Iterable[TargetResult]) -> bool:
    return num_requests > 0 and attainment >= target and all(r.passed for r in results)


def with_cost(
    summary: RunSummary, price: PriceUsed | None, num_gpus: int, *, missing: str | None = None
) -> RunSummary:
    """Price a summarized run (slotune.cost.run_cost: every one of `num_gpus` GPUs at `price`) and judge the SLO's
    cost targets, which need the price, with it. Without a price the cost says why (`missing`)."""
    cost = run_cost(summary, price, num_gpus, missing=missing)
    priced = summary.model_copy(update={"cost": cost})
    if not any(t.metric == "cost" for t in summary.targets):
        return priced
    observed = cost.usd_per_mtok
    targets = tuple(
        t.model_copy(
            update={"observed": observed, "passed": observed is not None and observed <= t.threshold}
        )
        if t.metric == "cost"
        else t
        for t in summary.targets
    )
    met = _slo_met(
        summary.num_requests, summary.slo_attainment or 0.0, summary.attainment_target or 1.0, targets
    )
    return priced.model_copy(update={"targets": targets, "slo_met": met})


def summarize(
    records: Iterable[RequestRecord],
    *,
    duration_s: float,
    slo: SLO | None = None,
) -> RunSummary:
    """Summarize finished requests over a measured window of `duration_s` seconds.

    Failed requests (errors, timeouts, rejections, aborts) are kept: they count in `num_requests`, never
    meet the SLO, and enter each target's percentile as +inf, so failures can only make a run look worse.
    The cost is added by `with_cost` (an SLO's cost target fails until then). A run in which nothing finished
    has duration 0 and rates of 0.
    """
    if duration_s < 0:
        raise ValueError(f"duration_s must not be negative, got {duration_s}")
    ttft: list[float] = []
    tpot: list[float] = []
    e2e: list[float] = []
    itl_parts: list[np.ndarray] = []
    failures: Counter[str] = Counter()
    n = n_ok = prompt = cached = output = preemptions = 0
    meets = meets_tokens = 0
    missed_by_target = [0] * (len(slo.targets) if slo is not None else 0)
    slo_ttft: list[float] = []
    slo_e2e: list[float] = []
    slo_tpot: list[float] = []
    for r in records:
        n += 1
        preemptions += r.num_preemptions
        if slo is not None:
            missed = missed_targets(r, slo)
            for i in missed:
                missed_by_target[i] += 1
            if not missed:
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

    def per_s(count: float) -> float:
        return count / duration_s if duration_s > 0 else 0.0

    out_tps = per_s(output)
    summary = RunSummary(
        num_requests=n,
        num_ok=n_ok,
        num_failed=n - n_ok,
        failures_by_reason=dict(sorted(failures.items())),
        duration_s=duration_s,
        request_throughput_rps=per_s(n_ok),
        output_tokens_per_s=out_tps,
        total_tokens_per_s=per_s(prompt + output),
        prompt_tokens=prompt,
        cached_prompt_tokens=cached,
        output_tokens=output,
        num_preemptions=preemptions,
        ttft_s=Distribution.of(ttft),
        itl_s=Distribution.of(itl),
        tpot_s=Distribution.of(tpot),
        e2e_s=Distribution.of(e2e),
    )
    by_metric = {"ttft": slo_ttft, "e2e": slo_e2e, "tpot": slo_tpot, "itl": itl}
    return with_slo(
        summary,
        slo,
        statistic_of=lambda metric, stat: statistic(by_metric[metric], stat),
        num_meeting=meets,
        meeting_tokens=meets_tokens,
        num_missed=missed_by_target,
    )
