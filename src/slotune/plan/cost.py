"""The planner's cost figure: $/Mtok from the GPU's dated hourly price and one replica's throughput."""

from __future__ import annotations

from slotune.cost import USD_PER_MTOK_FORMULA, usd_per_mtok
from slotune.models import GpuSpec, PricePoint
from slotune.plan.derivation import Derived, derived


def default_price(gpu: GpuSpec) -> PricePoint | None:
    """The catalog's first (default) dated price, None when the catalog has none for this GPU."""
    return gpu.prices[0] if gpu.prices else None


def price_source(price: PricePoint) -> str:
    return f"{price.provider}, {price.kind}, {price.date}: {price.source}"


def derive_usd_per_mtok(price: PricePoint, num_gpus: int, output_tokens_per_s: float) -> Derived[float]:
    """$/Mtok of one replica of num_gpus GPUs at a positive output rate."""
    cost = usd_per_mtok(price.usd_per_gpu_hour * num_gpus, output_tokens_per_s)
    if cost is None:
        raise ValueError("a cost per token needs a positive output rate")
    return derived(
        "usd_per_mtok",
        cost,
        "USD/Mtok",
        f"{USD_PER_MTOK_FORMULA}, usd_per_hour_total = usd_per_gpu_hour x tp",
        usd_per_gpu_hour=price.usd_per_gpu_hour,
        tensor_parallel_size=num_gpus,
        output_tokens_per_s=output_tokens_per_s,
        price=f"{price.provider} {price.kind} {price.date} ({price.source})",
    )
