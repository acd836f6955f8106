"""What one simulated deployment is: the resolved engine flags, the KV pool and the model's per-GPU cost facts.

Numbers come from slotune.plan (weight bytes per quantization and tensor-parallel rank, KV bytes per token, KV
capacity as vLLM V1 accounts it); the engine flags are resolved once, by slotune.vllm_rules, with vLLM's own
start-up rules. This module adds vLLM's refusal when the KV pool cannot hold one request.
"""

from __future__ import annotations

from dataclasses import dataclass

from slotune.errors import InputError
from slotune.models import EngineConfig, GpuSpec, ModelSpec, ResolvedEngineConfig
from slotune.simulate.cost_model import ModelCostFacts, default_capture_sizes
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
    """Per-GPU cost facts from the planner's tensor inventory."""
    from slotune.plan.memory import kv_bytes_per_token, weight_bytes_by_role
    from slotune.plan.params import matmul_params_per_token
    from slotune.plan.quantization import resolve_quantization

    tp = config.tensor_parallel_size
    scheme = resolve_quantization(model, config.quantization)
    by_role = weight_bytes_by_role(model, scheme, tensor_parallel_size=tp)
    # Streamed every step: everything but the embedding table (a gather) and routed experts (only those the
    # batch is routed to) and a vision tower (idle for text). A tied lm_head streams the embedding table.
    skipped = {"expert", "vision"} | (set() if model.tie_word_embeddings else {"embedding"})
    dense = sum(b for role, b in by_role.items() if role not in skipped)
    lm_head_params = model.vocab_size * model.hidden_size
    linear_params = matmul_params_per_token(model) - lm_head_params
    kinds = model.layer_types or ("full",) * model.num_layers
    num_attention_layers = sum(1 for k in kinds if k != "linear")
    if model.mla is not None:
        # Absorbed MLA (vLLM's decode path): scores over the latent + RoPE key, values in the latent.
        mla = model.mla
        per_pair = 2 * model.num_attention_heads * (2 * mla.kv_lora_rank + mla.qk_rope_head_dim)
    else:
        per_pair = 4 * model.num_attention_heads * model.head_dim
    moe = model.moe
    return ModelCostFacts(
        num_layers=model.num_layers,
        hidden_size=model.hidden_size,
        tensor_parallel_size=tp,
        dense_weight_bytes=float(dense),
        expert_weight_bytes=float(by_role.get("expert", 0)),
        num_experts=moe.num_experts if moe is not None else 0,
        experts_per_token=moe.num_experts_per_tok if moe is not None else 0,
        kv_bytes_per_token=float(kv_bytes_per_token(model, config.kv_cache_dtype, tensor_parallel_size=tp)),
        linear_flops_per_token=2.0 * linear_params / tp,
        lm_head_flops_per_logit=2.0 * lm_head_params / tp,
        attn_flops_per_pair=float(per_pair * num_attention_layers) / tp,
        compute_dtype=scheme.compute_dtype,
    )


def kv_pool_blocks(model: ModelSpec, gpu: GpuSpec, config: ResolvedEngineConfig) -> int:
    """num_gpu_blocks as vLLM V1 would allocate them (slotune.plan.plan_capacity)."""
    from slotune.plan import plan_capacity

    plan = plan_capacity(model, gpu, config, quantization=config.quantization)
    if not plan.fits:
        raise InputError(
            "engine_config",
            f"{model.name} on {gpu.name} x{config.tensor_parallel_size}",
            "; ".join(plan.reasons) or "raise --gpu-memory-utilization, lower --max-model-len or add GPUs",
            problem="vLLM would not start: the model and one max_model_len request do not fit",
        )
    return plan.kv_capacity_blocks


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
    num_spec = spec.num_speculative_tokens if spec is not None else 0
    capture_sizes = config.cudagraph_capture_sizes or default_capture_sizes(
        config.max_num_seqs, config.max_num_batched_tokens, num_spec
    )
    return Deployment(config=config, facts=facts, num_gpu_blocks=num_gpu_blocks, capture_sizes=capture_sizes)
