"""The one cost formula, and the cost report every command builds from it.

$/Mtok = (price per GPU-hour x GPUs) / (tokens per hour) x 1e6; $/request = (price per GPU-hour x GPUs) /
(requests per hour). Every GPU the deployment holds (tensor parallel x pipeline x replicas) is paid for, busy or
idle. Which price a figure used travels with it (slotune.models.cost.PriceUsed).
"""

from __future__ import annotations

import math

from slotune.models.cost import CostReport, PriceUsed, RequestBasis
from slotune.models.run_summary import RunSummary
from slotune.units import HOUR_S, MTOK

REQUESTS_PER_BATCH = 1000  # "per 1,000 requests", the unit hosted APIs' per-call prices compare with


def usd_per_mtok(usd_per_gpu_hour: float, num_gpus: int, tokens_per_s: float) -> float:
    """$ per million tokens = (price per GPU-hour x GPUs) / (tokens per hour) x 1e6.

    `tokens_per_s` is output tokens for $/Mtok of output, prompt + output tokens for $/Mtok of both. No
    throughput means an infinite cost."""
    if tokens_per_s <= 0:
        return float("inf")
    return usd_per_gpu_hour * num_gpus / (tokens_per_s * HOUR_S) * MTOK


def usd_per_request(usd_per_gpu_hour: float, num_gpus: int, requests_per_s: float) -> float:
    """$ per request = (price per GPU-hour x GPUs) / (requests per hour); infinite when none completes."""
    if requests_per_s <= 0:
        return float("inf")
    return usd_per_gpu_hour * num_gpus / (requests_per_s * HOUR_S)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def cost_report(
    price: PriceUsed | None,
    num_gpus: int,
    *,
    output_tokens_per_s: float | None,
    total_tokens_per_s: float | None,
    requests_per_s: float | None,
    request_basis: RequestBasis,
    missing: str | None = None,
) -> CostReport:
    """The cost figures of a deployment of `num_gpus` GPUs at `price` and the given rates (None: unknown).

    A figure whose rate is zero (nothing produced, no request met the SLO) is None rather than infinite."""
    rates = {
        "output_tokens_per_s": output_tokens_per_s,
        "total_tokens_per_s": total_tokens_per_s,
        "requests_per_s": requests_per_s,
    }
    if price is None:
        return CostReport(
            missing=missing or "no GPU price", num_gpus=num_gpus, request_basis=request_basis, **rates
        )
    hourly = price.usd_per_gpu_hour

    def per_mtok(rate: float | None) -> float | None:
        return None if rate is None else _finite(usd_per_mtok(hourly, num_gpus, rate))

    per_request = (
        None if requests_per_s is None else _finite(usd_per_request(hourly, num_gpus, requests_per_s))
    )
    return CostReport(
        price=price,
        missing=missing,
        num_gpus=num_gpus,
        usd_per_hour=hourly * num_gpus,
        request_basis=request_basis,
        usd_per_mtok=per_mtok(output_tokens_per_s),
        usd_per_mtok_total=per_mtok(total_tokens_per_s),
        usd_per_request=per_request,
        usd_per_1k_requests=None if per_request is None else per_request * REQUESTS_PER_BATCH,
        **rates,
    )


def run_cost(
    summary: RunSummary, price: PriceUsed | None, num_gpus: int, *, missing: str | None = None
) -> CostReport:
    """A run's cost: tokens at the measured throughput; requests at the SLO's goodput (requests that met every
    target), or at the measured request throughput when the run had no SLO."""
    with_slo = summary.slo_name is not None and summary.goodput_rps is not None
    return cost_report(
        price,
        num_gpus,
        output_tokens_per_s=summary.output_tokens_per_s,
        total_tokens_per_s=summary.total_tokens_per_s,
        requests_per_s=summary.goodput_rps if with_slo else summary.request_throughput_rps,
        request_basis="goodput" if with_slo else "throughput",
        missing=missing,
    )


def usd_text(value: float) -> str:
    """A price as people write it: $1.40, $1.006."""
    return f"${value:.2f}" if round(value, 2) == value else f"${value:g}"


def price_origin(price: PriceUsed) -> str:
    """Where a price came from, as the user would give it again: `--price h100-sxm=1.9`, `--prices FILE`,
    `SLOTUNE_PRICES=FILE` or `catalog`."""
    return {
        "--price": f"--price {price.gpu}={price.usd_per_gpu_hour:g}",
        "--prices": f"--prices {price.file}",
        "SLOTUNE_PRICES": f"SLOTUNE_PRICES={price.file}",
        "catalog": "catalog",
    }[price.source]


def describe_price(price: PriceUsed) -> str:
    """One line naming the price and where it came from, e.g. "$4.76/GPU-h, RunPod, on-demand, 2026-03 (catalog:
    deploybase.ai RunPod pricing guide)"."""
    what = ", ".join(part for part in (price.provider, price.kind, price.date or "undated") if part)
    origin = price_origin(price)
    if price.reference:
        origin += f": {price.reference}"
    return f"{usd_text(price.usd_per_gpu_hour)}/GPU-h, {what} ({origin})"
