"""The planner's cost figure: $/Mtok from the GPU's dated hourly price and one replica's throughput."""

from __future__ import annotations

from slotune.cost import usd_per_mtok
from slotune.models import GpuSpec, PricePoint
from slotune.plan.derivation import Derived, derived

__all__ = ["default_price", "derive_usd_per_mtok", "price_source", "usd_per_mtok"]


def default_price(gpu: GpuSpec) -> PricePoint | None:
    """The catalog's first (default) dated price, None when the catalog has none for this GPU."""
    return gpu.prices[0] if gpu.prices else None


def price_source(price: PricePoint) -> str:
    return f"{price.provider}, {price.kind}, {price.date}: {price.source}"


def derive_usd_per_mtok(price: PricePoint, num_gpus: int, output_tokens_per_s: float) -> Derived[float]:
    """$/Mtok of one replica of num_gpus GPUs (slotune.cost.usd_per_mtok)."""
    return derived(
        "usd_per_mtok",
        usd_per_mtok(price.usd_per_gpu_hour, num_gpus, output_tokens_per_s),
        "USD/Mtok",
        "usd_per_gpu_hour x tp / (output tok/s x 3600) x 1e6",
        usd_per_gpu_hour=price.usd_per_gpu_hour,
        tensor_parallel_size=num_gpus,
        output_tokens_per_s=output_tokens_per_s,
        price=f"{price.provider} {price.kind} {price.date} ({price.source})",
    )
