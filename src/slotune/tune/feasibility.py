"""Pruning before any run: a configuration vLLM would refuse to start, or that the planner says does not fit.

The checks are the ones the simulator itself applies to a deployment (slotune.simulate.deployment): vLLM's
start-up rules (slotune.vllm_rules: refusals are InputErrors), a tensor-parallel size that divides the heads,
the planner's memory budget (weights, activations, CUDA graphs and the KV cache within
gpu_memory_utilization), and a KV pool that holds one max_model_len request. What a check says becomes the
point's `pruned` reason, so the report can show why it never ran.
"""

from __future__ import annotations

from dataclasses import dataclass

from slotune.catalog import get_gpu, get_model
from slotune.errors import InputError
from slotune.models import EngineConfig, ResolvedEngineConfig
from slotune.models.tune import Candidate


@dataclass(frozen=True, slots=True)
class Feasibility:
    reason: str | None  # None: it fits and vLLM would start it
    resolved: ResolvedEngineConfig | None = None
    crossover_batch_size: int | None = None


def check_feasible(candidate: Candidate, config: EngineConfig) -> Feasibility:
    from slotune.plan import plan_capacity
    from slotune.simulate.deployment import build_deployment

    model, gpu = get_model(candidate.model), get_gpu(candidate.gpu)
    try:
        deployment = build_deployment(model, gpu, config)
        plan = plan_capacity(model, gpu, deployment.config, quantization=deployment.config.quantization)
    except InputError as exc:
        return Feasibility(reason=str(exc))
    return Feasibility(
        reason=None, resolved=deployment.config, crossover_batch_size=plan.latency.crossover_batch_size
    )
