"""Cost per million output tokens from a GPU's dated hourly price and a replica's throughput."""

from __future__ import annotations

from slotune.models import GpuSpec, PricePoint
from slotune.units import HOUR_S, MTOK


def default_price(gpu: GpuSpec) -> PricePoint | None:
    """The catalog's first (default) dated price, None when the catalog has none for this GPU."""
    return gpu.prices[0] if gpu.prices else None


def usd_per_mtok(usd_per_gpu_hour: float, num_gpus: int, output_tokens_per_s: float) -> float:
    """$ per million output tokens = (price per GPU-hour x GPUs) / (output tokens per hour) x 1e6."""
    if output_tokens_per_s <= 0:
        return float("inf")
    return usd_per_gpu_hour * num_gpus / (output_tokens_per_s * HOUR_S) * MTOK
