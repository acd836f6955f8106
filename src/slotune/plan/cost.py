"""Cost per million output tokens from a GPU's dated hourly price and a replica's throughput."""

from __future__ import annotations

from slotune.cost import usd_per_mtok
from slotune.models import GpuSpec, PricePoint

__all__ = ["default_price", "usd_per_mtok"]


def default_price(gpu: GpuSpec) -> PricePoint | None:
    """The catalog's first (default) dated price, None when the catalog has none for this GPU."""
    return gpu.prices[0] if gpu.prices else None
