"""Cost per million output tokens: the one formula every command uses (plan, simulate, bench)."""

from __future__ import annotations

from slotune.units import HOUR_S, MTOK

USD_PER_MTOK_FORMULA = "usd_per_hour_total / (output tokens/s x 3600) x 1e6"


def usd_per_mtok(usd_per_hour_total: float, output_tokens_per_s: float) -> float | None:
    """US dollars per million output tokens of a deployment.

    usd_per_hour_total: what the whole deployment costs per hour (price per GPU-hour x GPUs of every replica).
    output_tokens_per_s: output (generated) tokens per second the same deployment delivers.
    None when it delivers no output (the cost per token is undefined).
    """
    if output_tokens_per_s <= 0:
        return None
    return usd_per_hour_total / (output_tokens_per_s * HOUR_S) * MTOK
