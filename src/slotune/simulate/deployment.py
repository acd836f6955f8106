"""What one simulated deployment is: the resolved engine flags, the KV pool and the model's per-GPU cost facts.

Numbers come from slotune.plan (weight bytes per quantization and tensor-parallel rank, KV bytes per token, KV
capacity as vLLM V1 accounts it); the engine flags are resolved once, by slotune.vllm_rules, with vLLM's own
start-up rules. This module adds vLLM's refusal when the KV pool cannot hold one request.
"""

from __future__ import annotations

from dataclasses import dataclass

from slotune.errors import InputError
from slotune.models import EngineConfig, GpuSpec, HardwareProfile, ModelSpec, ResolvedEngineConfig
from slotune.plan.cuda_graphs import deployment_capture_sizes
from slotune.plan.kv import (
    KvCapacity,
    blocks_per_request,
    in_flight_tokens,
    kv_capacity,
    kv_groups,
    sliding_cap_blocks,
)
from slotune.plan.step_cost import ModelCostFacts
from slotune.simulate.block_manager import GroupLayout
from slotune.vllm_rules import resolve_engine_config
from slotune.vllm_versions import VllmBehaviour, vllm_behaviour

# Proposers that write KV for their drafts, so the scheduler reserves slots ahead for them
# (config/vllm.py VllmConfig.num_lookahead_tokens: EAGLE-family and draft models; n-gram and suffix: none).
LOOKAHEAD_METHODS = frozenset({"eagle", "eagle3", "mtp", "draft_model"})
# Proposers that run on the GPU (the n-gram and suffix proposers match tokens on the CPU).
GPU_DRAFT_METHODS = LOOKAHEAD_METHODS
# Proposers that need the hidden states of the last cached block, so vLLM drops it from every prefix hit
# (SpeculativeConfig.use_eagle).
EAGLE_METHODS = frozenset({"eagle", "eagle3", "mtp"})


@dataclass(frozen=True, slots=True)
class Deployment:
    config: ResolvedEngineConfig
    facts: ModelCostFacts
    num_gpu_blocks: int
    capture_sizes: tuple[int, ...]
    # The KV pool as vLLM sizes it: blocks, its KV-cache groups, and the "GPU KV cache size" it logs.
    capacity: KvCapacity
    layout: GroupLayout
    behaviour: VllmBehaviour


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


def kv_pool_blocks(
    model: ModelSpec, gpu: GpuSpec, config: ResolvedEngineConfig, profile: HardwareProfile | None = None
) -> int:
    """num_gpu_blocks as vLLM V1 would allocate them (slotune.plan.plan_capacity)."""
    from slotune.plan import plan_capacity

    plan = plan_capacity(model, gpu, config, quantization=config.quantization, profile=profile)
    if not plan.fits:
        raise InputError(
            "engine_config",
            f"{model.name} on {gpu.name} x{config.tensor_parallel_size}",
            "; ".join(plan.verdict.reasons)
            or "raise --gpu-memory-utilization, lower --max-model-len or add GPUs",
            problem="vLLM would not start: the model and one max_model_len request do not fit",
        )
    return plan.kv.capacity_blocks


def pool_capacity(
    model: ModelSpec, config: ResolvedEngineConfig, num_gpu_blocks: int, behaviour: VllmBehaviour
) -> tuple[KvCapacity, GroupLayout]:
    """The pool's KV-cache groups (the planner's `kv_groups`, as vLLM forms them) and what vLLM reports for
    `num_gpu_blocks` blocks: the same numbers the planner computes for its own pool size."""
    bs = config.block_size
    groups = kv_groups(
        model, config.kv_cache_dtype, tensor_parallel_size=config.tensor_parallel_size, block_size=bs
    )
    in_flight = in_flight_tokens(
        config.max_num_batched_tokens,
        async_scheduling=config.async_scheduling,
        counts_batches=behaviour.sliding_window_counts_in_flight_batches,
    )
    capacity = kv_capacity(
        num_gpu_blocks * groups.block_bytes,
        groups,
        bs,
        max_model_len=config.max_model_len,
        in_flight_tokens=in_flight,
    )
    if groups.num_full_groups == 0:
        raise InputError(
            "model",
            model.name,
            "the simulator needs a full-attention layer; give layer_types with at least one full_attention layer",
            problem="every attention layer is sliding-window",
        )
    window = groups.sliding_window or 0
    layout = GroupLayout(
        full_groups=groups.num_full_groups,
        sliding_groups=groups.num_sliding_groups if window else 0,
        sliding_window=window,
        sliding_cap_blocks=sliding_cap_blocks(window, config.max_model_len, in_flight, bs) if window else 0,
    )
    return capacity, layout


def build_deployment(
    model: ModelSpec,
    gpu: GpuSpec,
    engine_config: EngineConfig,
    *,
    facts: ModelCostFacts | None = None,
    num_gpu_blocks: int | None = None,
    profile: HardwareProfile | None = None,
) -> Deployment:
    """Resolve and check a deployment under the vLLM release of `profile` (the default profile's when None);
    `facts` / `num_gpu_blocks` replace the planner's numbers when given."""
    behaviour = vllm_behaviour(profile.vllm_version) if profile is not None else vllm_behaviour()
    config = resolve_engine_config(model, gpu, engine_config, behaviour)
    check_simulable(config)
    if facts is None:
        facts = model_cost_facts(model, config)
    if num_gpu_blocks is None:
        num_gpu_blocks = kv_pool_blocks(model, gpu, config, profile)
    capacity, layout = pool_capacity(model, config, num_gpu_blocks, behaviour)
    # vLLM refuses to start when one max_model_len request cannot fit the KV pool (kv_cache_utils
    # check_enough_kv_cache_memory), in every group; block 0 is the reserved null block.
    needed = blocks_per_request(
        capacity.groups, config.max_model_len, config.block_size, capacity.in_flight_tokens
    )
    if num_gpu_blocks - 1 < needed:
        raise InputError(
            "kv cache",
            f"{num_gpu_blocks} blocks of {config.block_size} tokens",
            f"one max_model_len={config.max_model_len} request needs {needed} blocks: lower --max-model-len, "
            "raise --gpu-memory-utilization (or --kv-cache-memory-bytes), or add GPUs",
            problem="the KV cache cannot hold a single max-length request",
        )
    return Deployment(
        config=config,
        facts=facts,
        num_gpu_blocks=num_gpu_blocks,
        capture_sizes=deployment_capture_sizes(model, gpu, config, behaviour),
        capacity=capacity,
        layout=layout,
        behaviour=behaviour,
    )
