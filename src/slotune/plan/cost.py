"""The planner's cost figures: one replica at its roofline maximum throughput, at the GPU price the user gave (or the
catalog's), through the one formula in slotune.cost."""

from __future__ import annotations

from slotune.cost import REQUESTS_PER_BATCH, cost_report, describe_price, usd_per_mtok, usd_per_request
from slotune.models import CostReport, PriceUsed, ThroughputPlan
from slotune.plan.derivation import Derived, Explain, derived

__all__ = ["derive_usd_per_1k_requests", "derive_usd_per_mtok", "plan_cost", "usd_per_mtok"]


def derive_usd_per_mtok(
    price: PriceUsed,
    num_gpus: int,
    tokens_per_s: float,
    *,
    name: str = "usd_per_mtok",
    tokens: str = "output",
) -> Derived[float]:
    """$/Mtok of one replica of num_gpus GPUs (slotune.cost.usd_per_mtok), per million `tokens` tokens."""
    return derived(
        name,
        usd_per_mtok(price.usd_per_gpu_hour, num_gpus, tokens_per_s),
        "USD/Mtok",
        f"usd_per_gpu_hour x tp / ({tokens} tok/s x 3600) x 1e6",
        usd_per_gpu_hour=price.usd_per_gpu_hour,
        tensor_parallel_size=num_gpus,
        tokens_per_s=tokens_per_s,
        price=describe_price(price),
    )


def derive_usd_per_1k_requests(price: PriceUsed, num_gpus: int, requests_per_s: float) -> Derived[float]:
    return derived(
        "usd_per_1k_requests",
        usd_per_request(price.usd_per_gpu_hour, num_gpus, requests_per_s) * REQUESTS_PER_BATCH,
        "USD",
        "usd_per_gpu_hour x tp / (requests/s x 3600) x 1000, requests/s = output tok/s / mean output tokens",
        usd_per_gpu_hour=price.usd_per_gpu_hour,
        tensor_parallel_size=num_gpus,
        requests_per_s=requests_per_s,
    )


def plan_cost(
    price: PriceUsed | None, num_gpus: int, throughput: ThroughputPlan, ex: Explain, missing: str | None
) -> CostReport:
    """The plan's cost at its maximum output rate; request and input+output rates follow from the workload's
    mean lengths (each request brings mean_prompt_tokens and takes mean_output_tokens)."""
    out_tps = throughput.output_tokens_per_s
    requests_per_s = total_tps = None
    if out_tps is not None and throughput.mean_output_tokens > 0:
        requests_per_s = out_tps / throughput.mean_output_tokens
        total_tps = requests_per_s * (throughput.mean_prompt_tokens + throughput.mean_output_tokens)
    if price is not None and not out_tps:
        missing = "no throughput to price: the configuration does not fit or no batch meets the ITL target"
    report = cost_report(
        price,
        num_gpus,
        output_tokens_per_s=out_tps,
        total_tokens_per_s=total_tps,
        requests_per_s=requests_per_s,
        request_basis="max-throughput",
        missing=missing,
    )
    if price is not None and out_tps and total_tps and requests_per_s:
        ex.take(derive_usd_per_mtok(price, num_gpus, out_tps))
        ex.take(
            derive_usd_per_mtok(price, num_gpus, total_tps, name="usd_per_mtok_total", tokens="input+output")
        )
        ex.take(derive_usd_per_1k_requests(price, num_gpus, requests_per_s))
    return report
