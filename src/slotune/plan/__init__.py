"""Phase 1, napkin math: parameters, weight and KV bytes, vLLM V1's KV capacity, roofline latency, $/Mtok."""

from slotune.plan.memory import kv_bytes_per_token, weight_bytes
from slotune.plan.planner import default_quantizations, plan_capacity, rank_options

__all__ = ["default_quantizations", "kv_bytes_per_token", "plan_capacity", "rank_options", "weight_bytes"]
