"""The one cost formula: dollars per million output tokens from a deployment's hourly price and throughput."""

from __future__ import annotations

from slotune.units import HOUR_S, MTOK


def usd_per_mtok(usd_per_gpu_hour: float, num_gpus: int, output_tokens_per_s: float) -> float:
    """$ per million output tokens = (price per GPU-hour x GPUs) / (output tokens per hour) x 1e6.

    Every GPU the deployment holds is paid for, busy or idle; no throughput means an infinite cost."""
    if output_tokens_per_s <= 0:
        return float("inf")
    return usd_per_gpu_hour * num_gpus / (output_tokens_per_s * HOUR_S) * MTOK
