"""Which tensor-parallel sizes vLLM accepts for a model."""

from __future__ import annotations

from slotune.models import ModelSpec

TP_SIZES = (1, 2, 4, 8, 16, 32, 64)


def tp_problem(model: ModelSpec, tp: int) -> str | None:
    """Why vLLM would refuse this tensor-parallel size, or None when it is valid."""
    if tp < 1:
        return "must be at least 1"
    if model.num_attention_heads % tp:
        return f"{model.num_attention_heads} attention heads are not divisible by {tp}"
    if model.mla is None and model.num_kv_heads % tp and tp % model.num_kv_heads:
        return f"{model.num_kv_heads} KV heads neither divide nor are divisible by {tp}"
    return None


def valid_tp_sizes(model: ModelSpec, limit: int = TP_SIZES[-1]) -> list[int]:
    return [tp for tp in TP_SIZES if tp <= limit and tp_problem(model, tp) is None]
