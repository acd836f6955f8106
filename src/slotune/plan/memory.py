"""GPU memory, the way vLLM V1 accounts for it (vllm/v1/worker/gpu_worker.py determine_available_memory).

    available_kv = total_memory x gpu_memory_utilization
                   - (weights + activation peak of a max_num_batched_tokens forward + non-torch memory
                      + CUDA-graph memory)

`--kv-cache-memory-bytes` replaces the whole expression. Weights are computed from the tensor inventory; the
activation peak, non-torch and CUDA-graph terms are estimates whose constants come from vLLM's own logs
(docs/plan.md lists them); a real engine measures them at start-up, and calibration can replace them.
"""

from __future__ import annotations

import math

from slotune.models import ModelSpec
from slotune.plan.derivation import Derived, derived, gib_text
from slotune.plan.kv import full_attention_kv_bytes_per_token, kv_bytes_per_token
from slotune.plan.params import WeightTensor, weight_tensors
from slotune.plan.quantization import QuantScheme, resolve_quantization, tensor_bytes
from slotune.units import GiB

__all__ = [
    "activation_peak_bytes",
    "available_kv_bytes",
    "cuda_graph_bytes",
    "derive_activation_peak_bytes",
    "derive_cuda_graph_bytes",
    "derive_kv_cache_bytes",
    "derive_non_torch_bytes",
    "derive_weights_bytes",
    "derive_weights_bytes_per_gpu",
    "full_attention_kv_bytes_per_token",
    "kv_bytes_per_token",
    "non_torch_bytes",
    "rotary_cache_bytes",
    "weight_bytes",
    "weight_bytes_by_role",
]

# Memory vLLM's profiler finds outside PyTorch's allocator after start-up (cuBLAS workspaces, attention-backend
# buffers): V1 logs show 0.09-0.35 GiB on one GPU ("non_torch_memory takes ..." / "non-torch forward increase").
NON_TORCH_BYTES_SINGLE_GPU = int(0.25 * GiB)
# With tensor parallelism NCCL connects its channels lazily on the first collective (during the profile run) and
# vLLM's custom all-reduce registers IPC buffers: an estimate per GPU, to be replaced by calibration.
NCCL_BYTES_PER_GPU = int(0.5 * GiB)
# CUDA-graph pool vLLM reserves up front since 0.21 (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS, on by default):
# logs show "Estimated CUDA graph memory" / "Graph capturing ... took" 0.31-1.10 GiB. Zero with --enforce-eager.
CUDA_GRAPH_BYTES = int(0.5 * GiB)
# Sampler of the profile run, per (request x vocabulary) element: bf16 logits, their fp32 copy and fp32
# probabilities (10 bytes). For Llama-3.1-8B with max_num_seqs 1024 this gives 1.22 GiB against the 1.19-1.24 GiB
# "PyTorch activation peak memory" vLLM logs on H100.
SAMPLER_BYTES_PER_LOGIT = 10
ACTIVATION_DTYPE_BYTES = 2


def _per_gpu_bytes(tensor: WeightTensor, scheme: QuantScheme, model: ModelSpec, tp: int) -> float:
    full = tensor_bytes(tensor, scheme, model)
    if tp == 1 or tensor.tp_split == "replicate":
        return full
    if tensor.tp_split == "kv":
        # Each rank holds max(1, kv_heads // tp) heads: replicated once TP exceeds the KV heads.
        return full * max(1, model.num_kv_heads // tp) / model.num_kv_heads
    return full / tp


def weight_bytes(model: ModelSpec, quantization: str | None, *, tensor_parallel_size: int = 1) -> int:
    """Bytes of every weight the engine loads under `quantization` (None/"auto": the checkpoint's own).

    With tensor_parallel_size > 1: on one GPU (sharded layers split, norms/routers/MLA down-projections
    replicated, KV projections replicated past num_kv_heads).
    """
    scheme = resolve_quantization(model, quantization)
    total = sum(_per_gpu_bytes(t, scheme, model, tensor_parallel_size) for t in weight_tensors(model))
    return math.ceil(total)


def weight_bytes_by_role(
    model: ModelSpec, scheme: QuantScheme, *, tensor_parallel_size: int = 1
) -> dict[str, int]:
    """Per-GPU weight bytes grouped by tensor role (embedding, linear, expert, norm, ...)."""
    out: dict[str, float] = {}
    for t in weight_tensors(model):
        out[t.role] = out.get(t.role, 0.0) + _per_gpu_bytes(t, scheme, model, tensor_parallel_size)
    return {role: math.ceil(b) for role, b in out.items()}


def derive_weights_bytes(model: ModelSpec, scheme: QuantScheme) -> Derived[int]:
    return derived(
        "weights_bytes",
        weight_bytes(model, scheme.name),
        "bytes",
        "quantized linear weights x bits/8 + scales/zeros + unquantized (embeddings, lm_head, norms) x "
        f"{scheme.unquantized_bytes:g} B",
        quantization=scheme.name,
        weight_bits=scheme.weight_bits,
        group_size=scheme.group_size or 0,
    )


def derive_weights_bytes_per_gpu(
    model: ModelSpec, scheme: QuantScheme, tensor_parallel_size: int
) -> Derived[int]:
    return derived(
        "weights_bytes_per_gpu",
        weight_bytes(model, scheme.name, tensor_parallel_size=tensor_parallel_size),
        "bytes",
        "sum over weight tensors of bytes under the quantization (sharded tensors / tp)",
        quantization=scheme.name,
        tensor_parallel_size=tensor_parallel_size,
    )


def rotary_cache_bytes(model: ModelSpec) -> int:
    """vLLM's RotaryEmbedding keeps a cos/sin cache of max_position_embeddings x rotary_dim in the model dtype.

    It is part of "Model loading took X GiB": Llama-3.1-8B loads 14.9888 GiB = 8.03e9 x 2 B + 131072 x 128 x 2 B.
    """
    rotary_dim = model.mla.qk_rope_head_dim if model.mla is not None else model.head_dim
    return model.max_position_embeddings * rotary_dim * ACTIVATION_DTYPE_BYTES


def activation_peak_bytes(
    model: ModelSpec, *, max_num_batched_tokens: int, max_num_seqs: int, tensor_parallel_size: int = 1
) -> int:
    """Peak PyTorch memory of vLLM's profile run: one forward of max_num_batched_tokens tokens, then the sampler
    on min(max_num_seqs, max_num_batched_tokens) rows (gpu_model_runner.profile_run / _dummy_sampler_run).

    Forward: the live tensors of the widest layer, in bf16: residual, hidden and normed input (3 x hidden) plus
    the MLP's gate_up output and activation (3 x intermediate / tp) or the fused-MoE caches
    (top_k x (3 x moe_intermediate / tp + hidden)) or the attention's qkv and output. Sampler: 10 bytes per logit.
    """
    tokens = max_num_batched_tokens
    tp = tensor_parallel_size
    h = model.hidden_size
    per_token = 3 * h
    widest = 3 * model.intermediate_size / tp
    if model.moe is not None:
        moe = model.moe
        widest = max(
            widest if moe.first_k_dense_layers else 0.0,
            moe.num_experts_per_tok * (3 * moe.moe_intermediate_size / tp + h) + moe.num_experts * 2,
        )
    q_width = model.num_attention_heads * model.head_dim
    attention = (2 * q_width + 2 * model.num_kv_heads * model.head_dim) / tp
    forward = tokens * (per_token + max(widest, attention)) * ACTIVATION_DTYPE_BYTES
    num_reqs = min(max_num_seqs, max_num_batched_tokens)
    sampler = num_reqs * model.vocab_size * SAMPLER_BYTES_PER_LOGIT
    return math.ceil(max(forward, sampler))


def derive_activation_peak_bytes(
    model: ModelSpec, *, max_num_batched_tokens: int, max_num_seqs: int, tensor_parallel_size: int
) -> Derived[int]:
    value = activation_peak_bytes(
        model,
        max_num_batched_tokens=max_num_batched_tokens,
        max_num_seqs=max_num_seqs,
        tensor_parallel_size=tensor_parallel_size,
    )
    return derived(
        "activation_peak_bytes",
        value,
        "bytes",
        "max(max_num_batched_tokens x (3 x hidden + widest MLP/MoE/attention intermediate) x "
        f"{ACTIVATION_DTYPE_BYTES} B, min(max_num_seqs, max_num_batched_tokens) x vocab x "
        f"{SAMPLER_BYTES_PER_LOGIT} B)",
        max_num_batched_tokens=max_num_batched_tokens,
        max_num_seqs=max_num_seqs,
        hidden_size=model.hidden_size,
        vocab_size=model.vocab_size,
    )


def non_torch_bytes(tensor_parallel_size: int) -> int:
    """Non-torch memory counted inside the budget: cuBLAS/attention workspaces, plus NCCL buffers under TP."""
    return NON_TORCH_BYTES_SINGLE_GPU + (NCCL_BYTES_PER_GPU if tensor_parallel_size > 1 else 0)


def cuda_graph_bytes(*, enforce_eager: bool) -> int:
    return 0 if enforce_eager else CUDA_GRAPH_BYTES


def derive_non_torch_bytes(tensor_parallel_size: int) -> Derived[int]:
    return derived(
        "non_torch_bytes",
        non_torch_bytes(tensor_parallel_size),
        "bytes",
        f"{gib_text(NON_TORCH_BYTES_SINGLE_GPU)} (+{gib_text(NCCL_BYTES_PER_GPU)} NCCL buffers when tp > 1)",
        tensor_parallel_size=tensor_parallel_size,
    )


def derive_cuda_graph_bytes(*, enforce_eager: bool) -> Derived[int]:
    return derived(
        "cuda_graph_bytes",
        cuda_graph_bytes(enforce_eager=enforce_eager),
        "bytes",
        f"{gib_text(CUDA_GRAPH_BYTES)} unless --enforce-eager",
        enforce_eager=str(enforce_eager),
    )


def available_kv_bytes(
    *,
    total_memory_bytes: int,
    gpu_memory_utilization: float,
    non_kv_bytes: int,
    kv_cache_memory_bytes: int | None = None,
) -> int:
    """Bytes left for the KV cache on one GPU (may be negative: the configuration does not fit)."""
    if kv_cache_memory_bytes is not None:
        return kv_cache_memory_bytes
    return math.floor(total_memory_bytes * gpu_memory_utilization - non_kv_bytes)


def derive_kv_cache_bytes(
    *,
    total_memory_bytes: int,
    gpu_memory_utilization: float,
    non_kv: dict[str, int],
    kv_cache_memory_bytes: int | None,
) -> Derived[int]:
    """`non_kv`: what comes out of the budget before the KV cache, by name (weights, activations, ...)."""
    value = available_kv_bytes(
        total_memory_bytes=total_memory_bytes,
        gpu_memory_utilization=gpu_memory_utilization,
        non_kv_bytes=sum(non_kv.values()),
        kv_cache_memory_bytes=kv_cache_memory_bytes,
    )
    if kv_cache_memory_bytes is not None:
        return derived(
            "kv_cache_bytes",
            value,
            "bytes",
            "--kv-cache-memory-bytes (overrides utilization)",
            kv_cache_memory_bytes=kv_cache_memory_bytes,
        )
    return derived(
        "kv_cache_bytes",
        value,
        "bytes",
        f"total_memory x gpu_memory_utilization - ({' + '.join(non_kv)})",
        total_memory_bytes=total_memory_bytes,
        gpu_memory_utilization=gpu_memory_utilization,
        **non_kv,
    )
