"""Why a run did not meet its SLO, and what to try next, in words a person acts on.

A run can pass every target's percentile and still miss the SLO: attainment counts the requests that meet every
latency threshold at once (docs/slo.md), so 2% of requests slow on TTFT and 2% slow on ITL can be 4% that miss.
The reasons name each term and how many requests it kept from attainment.
"""

from __future__ import annotations

import math

from slotune.models.run_summary import RunSummary, TargetResult

# What moves each latency, in the order of the framework's tuning priorities; flags are vLLM's (engine flags of
# simulate, plan and bench --engine vllm).
HINTS: dict[str, str] = {
    "ttft": "TTFT waits for the queue and the prefill: a larger --max-num-batched-tokens prefills more per step, "
    "--enable-prefix-caching skips shared prefixes, a larger --tensor-parallel-size or another GPU adds compute",
    "itl": "ITL grows when prefill chunks share decode steps and with the batch: a smaller "
    "--max-num-batched-tokens caps the chunk, a smaller --max-num-seqs the batch",
    "tpot": "TPOT grows with the batch and the prefill chunks beside it: a smaller --max-num-seqs or "
    "--max-num-batched-tokens",
    "e2e": "E2E is TTFT plus every output token: the TTFT and ITL levers both apply",
    "throughput": "throughput needs a fuller batch: a larger --max-num-seqs and KV cache "
    "(--gpu-memory-utilization), or more GPUs",
    "cost": "cost per token falls with throughput per GPU: `slotune plan --gpu all` ranks GPUs and quantizations",
}


def target_text(metric: str, value: float | None) -> str:
    """A target's value in its unit: ms for latencies, tok/s, $/Mtok."""
    if value is None:
        return "-"
    if metric == "throughput":
        return f"{value:,.0f} tok/s"
    if metric == "cost":
        return f"${value:,.4f}/Mtok"
    if math.isinf(value):
        return "inf"
    return f"{value * 1e3:,.1f} ms"


def _term(t: TargetResult) -> str:
    op = ">=" if t.metric == "throughput" else "<="
    return f"{t.metric} {t.stat} {op} {target_text(t.metric, t.threshold)}"


def _per_request(t: TargetResult) -> str:
    if t.metric == "itl":
        return f"their own {t.stat} chunk gap over {target_text(t.metric, t.threshold)}"
    return f"{t.metric} over {target_text(t.metric, t.threshold)}"


def verdict_reasons(s: RunSummary) -> list[str]:
    """Each reason the run missed its SLO (none when it met it or had none)."""
    if s.slo_met is not False:
        return []
    if s.num_requests == 0:
        return ["no request was measured"]
    reasons = [
        f"{_term(t)} fails: {target_text(t.metric, t.observed)} over the run"
        for t in s.targets
        if not t.passed
    ]
    attainment, target = s.slo_attainment or 0.0, s.attainment_target or 1.0
    if attainment < target:
        n = s.num_requests
        missing = n - round(attainment * n)
        allowed = math.floor((1 - target) * n + 1e-9)
        reasons.append(
            f"{missing:,} of {n:,} requests miss at least one threshold ({missing / n:.2%}); the "
            f"{target:.0%} attainment target allows {allowed:,}"
        )
        for t in s.targets:
            if t.num_missed:
                reasons.append(f"  {t.num_missed:,} requests: {_per_request(t)}")
        if s.num_failed:
            reasons.append(f"  ({s.num_failed:,} failed requests miss every threshold)")
    return reasons


def next_steps(s: RunSummary) -> list[str]:
    """What to try next, for the terms that failed (by run statistic or by requests missed)."""
    if s.slo_met is not False:
        return []
    failing = [t.metric for t in s.targets if not t.passed or t.num_missed]
    steps = [HINTS[m] for m in dict.fromkeys(failing) if m in HINTS]
    steps.append(
        "`slotune tune` (the same --model, --gpu, workload and --slo) searches the engine flags for the "
        "cheapest setting that meets the SLO"
    )
    return steps
