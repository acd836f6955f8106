"""Roofline latency bounds: a step takes the longer of its compute and its memory traffic, plus TP all-reduces.

    compute_s = FLOPs / (peak FLOP/s of the compute dtype x MFU)
    memory_s  = bytes read / (HBM bytes/s x bandwidth efficiency)
    step_s    = max(compute_s, memory_s) + 2 x layers x all-reduce time          (tensor parallelism only)

Prefill FLOPs are 2 per matmul parameter per token plus attention's QK^T and PV over the causal context; decode
reads every weight once per step (MoE: only the experts the batch touches) plus each sequence's KV cache. These
are lower bounds for one request or one steady batch, without queueing or scheduler overhead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slotune.models import GpuSpec, ModelSpec
from slotune.plan.kv import kv_layers
from slotune.plan.params import matmul_params_per_token

# One NCCL/custom all-reduce costs at least this much however small (AIC's p2p latency, 10 us).
ALLREDUCE_LATENCY_S = 10e-6


@dataclass(frozen=True, slots=True)
class Hardware:
    """What the roofline needs from one GPU of a tensor-parallel group."""

    flops_per_s: float  # peak of the dtype the matmuls run in
    mfu_prefill: float
    mfu_decode: float
    hbm_bytes_per_s: float
    mem_bw_efficiency: float
    intra_node_bytes_per_s: float
    tensor_parallel_size: int

    @classmethod
    def of(cls, gpu: GpuSpec, compute_dtype: str, tensor_parallel_size: int) -> Hardware:
        # Weight-only schemes (and FP8 weights on GPUs without FP8 tensor cores: Marlin W8A16) run in bf16.
        flops = gpu.flops_per_s.get(compute_dtype) or gpu.flops_per_s["bf16"]
        return cls(
            flops_per_s=flops,
            mfu_prefill=gpu.mfu_prefill,
            mfu_decode=gpu.mfu_decode,
            hbm_bytes_per_s=gpu.hbm_bytes_per_s,
            mem_bw_efficiency=gpu.mem_bw_efficiency,
            intra_node_bytes_per_s=gpu.intra_node_bytes_per_s,
            tensor_parallel_size=tensor_parallel_size,
        )

    @property
    def effective_bytes_per_s(self) -> float:
        return self.hbm_bytes_per_s * self.mem_bw_efficiency


@dataclass(frozen=True, slots=True)
class WeightBytes:
    """Per-GPU weight bytes by how a step streams them (mixed precision: gpt-oss experts are 4-bit, the rest bf16)."""

    dense: float  # read by every step: attention, dense MLPs, shared experts, lm_head, norms, routers
    routed_expert: float  # read only for the experts the step's tokens route to
    not_streamed: float  # the embedding table (one row gathered per token) and any idle vision tower

    @classmethod
    def of(cls, model: ModelSpec, bytes_by_role: dict[str, int]) -> WeightBytes:
        expert = float(bytes_by_role.get("expert", 0))
        # A tied embedding table is also the lm_head matrix, which every step multiplies through.
        gathered = 0 if model.tie_word_embeddings else bytes_by_role.get("embedding", 0)
        idle = float(gathered + bytes_by_role.get("vision", 0))
        return cls(dense=sum(bytes_by_role.values()) - expert - idle, routed_expert=expert, not_streamed=idle)


def _attention_widths(model: ModelSpec, *, decode: bool) -> tuple[int, int]:
    """Per-head widths multiplied against the context: (QK^T width, PV width).

    MLA prefill runs as plain multi-head attention (qk_nope + qk_rope, v_head); MLA decode absorbs the up
    projections and attends over the latent: kv_lora_rank + qk_rope for scores, kv_lora_rank for values.
    """
    if model.mla is not None:
        mla = model.mla
        if decode:
            return mla.kv_lora_rank + mla.qk_rope_head_dim, mla.kv_lora_rank
        return mla.qk_nope_head_dim + mla.qk_rope_head_dim, mla.v_head_dim
    return model.head_dim, model.head_dim


def _causal_context_sum(num_tokens: int, window: int | None, *, start: int = 0) -> int:
    """Sum over new tokens start+1..start+num_tokens of how many keys each attends to (capped at the window)."""

    def upto(n: int) -> int:
        if window is None or n <= window:
            return n * (n + 1) // 2
        return window * (window + 1) // 2 + (n - window) * window

    return upto(start + num_tokens) - upto(start)


def prefill_flops(model: ModelSpec, num_tokens: int, *, cached_tokens: int = 0) -> float:
    """FLOPs of a prefill of num_tokens new tokens after cached_tokens already in the cache (whole model)."""
    linear = 2.0 * matmul_params_per_token(model) * num_tokens
    qk, pv = _attention_widths(model, decode=False)
    attention = 0.0
    for layer in kv_layers(model, "auto"):
        window = layer.sliding_window if layer.kind == "sliding" else None
        pairs = _causal_context_sum(num_tokens, window, start=cached_tokens)
        attention += 2.0 * pairs * model.num_attention_heads * (qk + pv)
    return linear + attention


def allreduce_s(num_tokens: int, model: ModelSpec, hw: Hardware) -> float:
    """Two all-reduces per layer (after attention and after the MLP) of num_tokens x hidden bf16 activations;
    a ring moves 2 (tp-1)/tp of the buffer through each GPU's link."""
    tp = hw.tensor_parallel_size
    if tp == 1:
        return 0.0
    buffer_bytes = num_tokens * model.hidden_size * 2
    per_op = ALLREDUCE_LATENCY_S + 2 * (tp - 1) / tp * buffer_bytes / hw.intra_node_bytes_per_s
    return 2 * model.num_layers * per_op


@dataclass(frozen=True, slots=True)
class StepTime:
    compute_s: float
    memory_s: float
    comm_s: float

    @property
    def total_s(self) -> float:
        return max(self.compute_s, self.memory_s) + self.comm_s

    @property
    def is_compute_bound(self) -> bool:
        return self.compute_s >= self.memory_s


def prefill_time(
    model: ModelSpec, prompt_tokens: int, weights: WeightBytes, hw: Hardware, *, chunk_tokens: int
) -> StepTime:
    """A lone request's prefill, in chunks of chunk_tokens (max_num_batched_tokens): each chunk is one engine
    step that reads every weight once and computes its tokens against the context before it."""
    tp = hw.tensor_parallel_size
    compute = memory = comm = 0.0
    done = 0
    while done < prompt_tokens:
        chunk = min(chunk_tokens, prompt_tokens - done)
        flops = prefill_flops(model, chunk, cached_tokens=done) / tp
        compute += flops / (hw.flops_per_s * hw.mfu_prefill)
        memory += decode_weight_bytes(model, weights, chunk) / hw.effective_bytes_per_s
        comm += allreduce_s(chunk, model, hw)
        done += chunk
    return StepTime(compute, memory, comm)


def expected_experts_touched(num_experts: int, top_k: int, batch_size: int) -> float:
    """Distinct experts a batch of independent tokens routes to, per MoE layer: E x (1 - (1 - k/E)^B)."""
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** batch_size)


def decode_weight_bytes(model: ModelSpec, weights: WeightBytes, num_tokens: int) -> float:
    """Weight bytes a step over num_tokens tokens streams: every dense weight, and of the routed experts only the
    fraction the tokens touch, E x (1 - (1 - k/E)^tokens) / E."""
    read = weights.dense
    if model.moe is not None and weights.routed_expert:
        touched = expected_experts_touched(model.moe.num_experts, model.moe.num_experts_per_tok, num_tokens)
        read += weights.routed_expert * touched / model.moe.num_experts
    return read


def decode_kv_read_bytes(model: ModelSpec, kv_cache_dtype: str, context_tokens: int, tp: int) -> float:
    """KV bytes one sequence's decode step reads on one GPU (sliding layers only their window)."""
    total = 0.0
    for layer in kv_layers(model, kv_cache_dtype, tensor_parallel_size=tp):
        held = (
            min(context_tokens, layer.sliding_window)
            if layer.kind == "sliding" and layer.sliding_window
            else context_tokens
        )
        total += held * layer.bytes_per_token
    return total


def decode_time(
    model: ModelSpec,
    batch_size: int,
    context_tokens: int,
    weights: WeightBytes,
    kv_cache_dtype: str,
    hw: Hardware,
    *,
    prefill_tokens: float = 0.0,
    prefill_flops_total: float = 0.0,
) -> StepTime:
    """One decode step of batch_size sequences at context_tokens each.

    With chunked prefill a step also carries other requests' prompt tokens: prefill_tokens of them costing
    prefill_flops_total FLOPs (whole model), computed at the prefill MFU; their weights are read anyway.
    """
    tp = hw.tensor_parallel_size
    qk, pv = _attention_widths(model, decode=True)
    attention_flops = 0.0
    for layer in kv_layers(model, "auto"):
        held = (
            min(context_tokens, layer.sliding_window)
            if layer.kind == "sliding" and layer.sliding_window
            else context_tokens
        )
        attention_flops += 2.0 * held * model.num_attention_heads * (qk + pv)
    decode_flops = batch_size * (2.0 * matmul_params_per_token(model) + attention_flops) / tp
    compute = decode_flops / (hw.flops_per_s * hw.mfu_decode)
    compute += prefill_flops_total / tp / (hw.flops_per_s * hw.mfu_prefill)
    bytes_read = decode_weight_bytes(model, weights, batch_size + math.ceil(prefill_tokens))
    bytes_read += batch_size * decode_kv_read_bytes(model, kv_cache_dtype, context_tokens, tp)
    memory = bytes_read / hw.effective_bytes_per_s
    return StepTime(compute, memory, allreduce_s(batch_size + math.ceil(prefill_tokens), model, hw))


def gemm_is_compute_bound(model: ModelSpec, batch_size: int, weights: WeightBytes, hw: Hardware) -> bool:
    """Do the step's matmuls take longer to compute than to stream their weights?

    2 x active params x B / tp / (peak x mfu_decode) >= weights read / (HBM x efficiency); the attention over the
    KV cache is left out: it reads as many bytes as it does FLOPs/2 per head and stays memory-bound.
    """
    flops = 2.0 * matmul_params_per_token(model) * batch_size / hw.tensor_parallel_size
    compute = flops / (hw.flops_per_s * hw.mfu_decode)
    memory = decode_weight_bytes(model, weights, batch_size) / hw.effective_bytes_per_s
    return compute >= memory


def crossover_batch_size(
    model: ModelSpec, weights: WeightBytes, hw: Hardware, *, max_batch: int = 1 << 16
) -> int | None:
    """Smallest decode batch at which the weight matmuls become compute-bound (None: not up to max_batch).

    For a dense bf16 model this is about (peak x mfu_decode) / (HBM x efficiency) tokens, the GPU's ops:byte
    ratio; MoE batches touch more experts as they grow, which pushes it out.
    """
    if not gemm_is_compute_bound(model, max_batch, weights, hw):
        return None
    lo, hi = 1, max_batch
    if gemm_is_compute_bound(model, lo, weights, hw):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if gemm_is_compute_bound(model, mid, weights, hw):
            hi = mid
        else:
            lo = mid
    return hi


def steady_output_tokens_per_s(
    model: ModelSpec,
    batch_size: int,
    prompt_tokens: float,
    output_tokens: float,
    weights: WeightBytes,
    kv_cache_dtype: str,
    hw: Hardware,
) -> tuple[float, StepTime]:
    """Output tokens/s of one replica holding batch_size requests in steady state.

    Each step emits batch_size tokens; batch_size / output_tokens requests finish per step and are replaced, so
    their prompts (batch_size x prompt / output tokens) are prefilled inside the same steps. The average context
    is the prompt plus half the output.
    """
    context = int(prompt_tokens + output_tokens / 2)
    requests_per_step = batch_size / max(output_tokens, 1.0)
    prompt = max(1, round(prompt_tokens))
    step = decode_time(
        model,
        batch_size,
        context,
        weights,
        kv_cache_dtype,
        hw,
        prefill_tokens=requests_per_step * prompt,
        prefill_flops_total=requests_per_step * prefill_flops(model, prompt),
    )
    return batch_size / step.total_s, step
