"""What one simulated deployment is: the resolved engine flags, the KV pool and the model's per-GPU cost facts.

Numbers come from slotune.plan (weight bytes per quantization and tensor-parallel rank, KV bytes per token, KV
capacity as vLLM V1 accounts it); the engine flags are resolved once, by slotune.vllm_rules, with vLLM's own
start-up rules. This module adds vLLM's refusal when the KV pool cannot hold one request.
"""

from __future__ import annotations

from dataclasses import dataclass

from slotune.errors import InputError
from slotune.models import EngineConfig, GpuSpec, ModelSpec, ResolvedEngineConfig
from slotune.plan.cuda_graphs import engine_capture_sizes
from slotune.plan.step_cost import ModelCostFacts
from slotune.vllm_rules import resolve_engine_config


@dataclass(frozen=True, slots=True)
class Deployment:
    config: ResolvedEngineConfig
    facts: ModelCostFacts
    num_gpu_blocks: int
    capture_sizes: tuple[int, ...]


def check_simulable(config: ResolvedEngineConfig) -> None:
    """What vLLM would run but the simulator does not model."""
    if config.pipeline_parallel_size != 1:
        raise InputError(
            "pipeline_parallel_size",
            config.pipeline_parallel_size,
            "the simulator models one pipeline stage; use tensor parallelism (--tensor-parallel-size)",
        )


def model_cost_facts(model: ModelSpec, config: ResolvedEngineConfig) -> ModelCostFacts:
    """Per-GPU cost facts from the planner's tensor inventory (slotune.plan.step_cost)."""
    from slotune.plan.quantization import resolve_quantization
    from slotune.plan.step_cost import model_cost_facts as facts_of

    scheme = resolve_quantization(model, config.quantization)
    return facts_of(model, scheme, config.kv_cache_dtype, config.tensor_parallel_size)


def kv_pool_blocks(model: ModelSpec, gpu: GpuSpec, config: ResolvedEngineConfig) -> int:
    """num_gpu_blocks as vLLM V1 would allocate them (slotune.plan.plan_capacity)."""
    from slotune.plan import plan_capacity

    plan = plan_capacity(model, gpu, config, quantization=config.quantization)
    if not plan.fits:
        raise InputError(
            "engine_config",
            f"{model.name} on {gpu.name} x{config.tensor_parallel_size}",
            "; ".join(plan.verdict.reasons)
            or "raise --gpu-memory-utilization, lower --max-model-len or add GPUs",
            problem="vLLM would not start: the model and one max_model_len request do not fit",
        )
    return plan.kv.capacity_blocks


def build_deployment(
    model: ModelSpec,
    gpu: GpuSpec,
    engine_config: EngineConfig,
    *,
    facts: ModelCostFacts | None = None,
    num_gpu_blocks: int | None = None,
) -> Deployment:
    """Resolve and check a deployment; `facts` / `num_gpu_blocks` replace the planner's numbers when given."""
    config = resolve_engine_config(model, gpu, engine_config)
    check_simulable(config)
    if facts is None:
        facts = model_cost_facts(model, config)
    if num_gpu_blocks is None:
        num_gpu_blocks = kv_pool_blocks(model, gpu, config)
    spec = config.speculative_config
    lookahead = spec.num_speculative_tokens if spec is not None and spec.method != "ngram" else 0
    # vLLM refuses to start when one max_model_len request cannot fit the KV pool (kv_cache_utils
    # check_enough_kv_cache_memory); block 0 is the reserved null block.
    needed = -(-(config.max_model_len + lookahead) // config.block_size)
    if num_gpu_blocks - 1 < needed:
        raise InputError(
            "kv cache",
            f"{num_gpu_blocks} blocks of {config.block_size} tokens",
            f"one max_model_len={config.max_model_len} request needs {needed} blocks: lower --max-model-len, "
            "raise --gpu-memory-utilization (or --kv-cache-memory-bytes), or add GPUs",
            problem="the KV cache cannot hold a single max-length request",
        )
    return Deployment(
        config=config, facts=facts, num_gpu_blocks=num_gpu_blocks, capture_sizes=engine_capture_sizes(config)
    )
