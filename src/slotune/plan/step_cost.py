"""Step-cost terms: how long one engine step takes on one GPU of a tensor-parallel group, before overheads.

The planner's roofline (plan/roofline.py) and the simulator's cost model (simulate/cost_model.py) evaluate the
same terms with the same hardware profile; the simulator adds CUDA-graph launch, CPU time and draft-model cost
on top. A step is summarized by aggregates (integers in the simulator, so a run of decode steps can be evaluated
as numpy arrays with bit-identical results; averages in the planner's steady state):

  prefill_tokens / decode_tokens   tokens computed, by phase (spec-decode verify tokens are decode tokens)
  padded_tokens                    tokens the step's CUDA graph runs (>= the tokens computed; equal without one)
  prefill_pairs / decode_pairs     causal (query, key) pairs in full-attention layers: a chunk of n tokens after
                                   c cached has n c + n (n+1)/2, a decode token at context c has c + 1
  window_*                         the same in sliding-window layers, each query attending to at most the window
  kv_tokens                        KV entries read or written per layer: cached + new tokens of each request
  num_logits                       rows through the LM head: one per scheduled request (vLLM's logits_indices),
                                   partial prefill chunks included, + k per request verifying k drafts

Per GPU (weights and heads split by tensor parallelism), one line per term:
  memory_s  = (weight bytes read + kv_bytes_per_token x kv_tokens + window_kv_bytes_per_token x window_kv_tokens)
              / (hbm_bytes_per_s x mem_bw_efficiency)
  compute_s = prefill FLOPs / (peak x mfu_prefill) + decode FLOPs / (peak x mfu_decode), prefill attention's
              FLOPs at prefill_attention_rate x the prefill rate
  comm_s    = 2 x layers x (allreduce_latency + 2 (tp-1)/tp x padded_tokens x hidden x 2 B / (link x efficiency))
  step_s    = max(compute_s, memory_s) + comm_s
Weight bytes read: every dense weight, and of the routed MoE experts the expected share the step's tokens touch,
1 - (1 - k/E)^tokens (uniform routing). Linear FLOPs run on the padded tokens; the padding runs at the decode
MFU, as do the LM head and decode attention.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from slotune.models import GpuSpec, ModelSpec, ProfileCoefficients
from slotune.plan.kv import kv_layers
from slotune.plan.memory import weight_bytes_by_role
from slotune.plan.params import matmul_params_per_token
from slotune.plan.quantization import QuantScheme

ACTIVATION_BYTES = 2.0  # bf16 activations in every all-reduce
ALLREDUCES_PER_LAYER = 2  # after attention and after the MLP


@dataclass(frozen=True, slots=True)
class ModelCostFacts:
    """Per-GPU facts of one model deployment (model x quantization x KV dtype x tensor parallelism)."""

    num_layers: int
    hidden_size: int
    tensor_parallel_size: int
    # Weights read by every step: everything but the routed experts, the gathered embedding and a vision tower.
    dense_weight_bytes: float
    # Routed MoE experts (0 for dense models); a step reads only the experts its tokens are routed to.
    expert_weight_bytes: float
    num_experts: int
    experts_per_token: int
    # KV bytes per token of the layers that keep every token (full attention, MLA).
    kv_bytes_per_token: float
    # 2 x matmul parameters used per token (attention projections, MLP or top-k experts), lm_head excluded.
    linear_flops_per_token: float
    lm_head_flops_per_logit: float
    # FLOPs of one causal (query, key) pair summed over the full-attention layers: QK^T and PV. Decode form
    # (MLA: absorbed, attending over the latent) and prefill form (MLA: plain multi-head attention).
    attn_flops_per_pair: float
    prefill_attn_flops_per_pair: float
    # Matmul dtype whose peak applies ("bf16", "fp8", "int8").
    compute_dtype: str = "bf16"
    # Sliding-window layers: their window, KV bytes per token and FLOPs per pair (0 without such layers).
    sliding_window: int | None = None
    window_kv_bytes_per_token: float = 0.0
    window_attn_flops_per_pair: float = 0.0


def attention_widths(model: ModelSpec, *, decode: bool) -> tuple[int, int]:
    """Per-head widths multiplied against the context: (QK^T width, PV width).

    MLA prefill runs as plain multi-head attention over up-projected keys and values (qk_nope + qk_rope, v_head);
    MLA decode absorbs the up projections and attends over the latent: kv_lora_rank + qk_rope for scores,
    kv_lora_rank for values (vLLM's MLA "compute friendly" and "data-movement friendly" paths).
    """
    if model.mla is not None:
        mla = model.mla
        if decode:
            return mla.kv_lora_rank + mla.qk_rope_head_dim, mla.kv_lora_rank
        return mla.qk_nope_head_dim + mla.qk_rope_head_dim, mla.v_head_dim
    return model.head_dim, model.head_dim


def attention_flops_per_pair_per_layer(model: ModelSpec, *, decode: bool) -> int:
    """2 FLOPs per multiply-add, QK^T and PV, every attention head (whole model)."""
    qk, pv = attention_widths(model, decode=decode)
    return 2 * model.num_attention_heads * (qk + pv)


def model_cost_facts(
    model: ModelSpec, scheme: QuantScheme, kv_cache_dtype: str, tensor_parallel_size: int
) -> ModelCostFacts:
    """Per-GPU cost facts from the planner's tensor inventory."""
    tp = tensor_parallel_size
    by_role = weight_bytes_by_role(model, scheme, tensor_parallel_size=tp)
    # Streamed every step: everything but the embedding table (a gather) and routed experts (only those the
    # batch is routed to) and a vision tower (idle for text). A tied lm_head streams the embedding table.
    skipped = {"expert", "vision"} | (set() if model.tie_word_embeddings else {"embedding"})
    dense = sum(b for role, b in by_role.items() if role not in skipped)
    lm_head_params = model.vocab_size * model.hidden_size
    layers = kv_layers(model, kv_cache_dtype, tensor_parallel_size=tp)
    full = [layer for layer in layers if layer.kind != "sliding"]
    sliding = [layer for layer in layers if layer.kind == "sliding"]
    decode_pair = attention_flops_per_pair_per_layer(model, decode=True)
    prefill_pair = attention_flops_per_pair_per_layer(model, decode=False)
    moe = model.moe
    return ModelCostFacts(
        num_layers=model.num_layers,
        hidden_size=model.hidden_size,
        tensor_parallel_size=tp,
        dense_weight_bytes=float(dense),
        expert_weight_bytes=float(by_role.get("expert", 0)),
        num_experts=moe.num_experts if moe is not None else 0,
        experts_per_token=moe.num_experts_per_tok if moe is not None else 0,
        kv_bytes_per_token=float(sum(layer.bytes_per_token for layer in full)),
        linear_flops_per_token=2.0 * (matmul_params_per_token(model) - lm_head_params) / tp,
        lm_head_flops_per_logit=2.0 * lm_head_params / tp,
        attn_flops_per_pair=float(decode_pair * len(full)) / tp,
        prefill_attn_flops_per_pair=float(prefill_pair * len(full)) / tp,
        compute_dtype=scheme.compute_dtype,
        sliding_window=model.sliding_window if sliding else None,
        window_kv_bytes_per_token=float(sum(layer.bytes_per_token for layer in sliding)),
        window_attn_flops_per_pair=float(decode_pair * len(sliding)) / tp,
    )


def compute_dtype_on(gpu: GpuSpec, compute_dtype: str) -> str:
    """The dtype the matmuls run in: weight-only schemes, and FP8 on GPUs without FP8 tensor cores (Marlin
    W8A16), dequantize in the kernel and run at the bf16 rate."""
    return compute_dtype if gpu.peak_flops_per_s(compute_dtype) else "bf16"


@dataclass(frozen=True, slots=True)
class Rates:
    """What the terms need from one GPU: catalog peaks, times the hardware profile's efficiencies."""

    peak_flops_per_s: float  # of the dtype the matmuls run in
    mfu_prefill: float
    mfu_decode: float
    prefill_attention_rate: float
    hbm_bytes_per_s: float
    mem_bw_efficiency: float
    link_bytes_per_s: float  # per direction, GPU to GPU inside a node
    interconnect_efficiency: float
    allreduce_latency_s: float

    @classmethod
    def of(cls, gpu: GpuSpec, coefficients: ProfileCoefficients, compute_dtype: str) -> Rates:
        """Profile coefficients where set, else the catalog's published efficiencies."""
        peak = gpu.peak_flops_per_s(compute_dtype_on(gpu, compute_dtype))
        if peak is None:
            raise ValueError(f"GPU {gpu.name} has no bf16 peak FLOP/s in the catalog")
        c = coefficients
        return cls(
            peak_flops_per_s=peak,
            mfu_prefill=c.mfu_prefill or gpu.mfu_prefill,
            mfu_decode=c.mfu_decode or gpu.mfu_decode,
            prefill_attention_rate=c.prefill_attention_rate,
            hbm_bytes_per_s=gpu.hbm_bytes_per_s,
            mem_bw_efficiency=c.mem_bw_efficiency or gpu.mem_bw_efficiency,
            link_bytes_per_s=gpu.intra_node_bytes_per_s,
            interconnect_efficiency=c.interconnect_efficiency,
            allreduce_latency_s=c.allreduce_latency_s,
        )

    def inputs(self) -> dict[str, float | int | str]:
        """Every rate by name, for an explanation's inputs."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class StepShape:
    """A step's aggregates (see the module docstring); fractional in the planner's steady state."""

    prefill_tokens: float = 0
    decode_tokens: float = 0
    prefill_pairs: float = 0
    decode_pairs: float = 0
    kv_tokens: float = 0
    num_logits: float = 0
    window_prefill_pairs: float = 0
    window_decode_pairs: float = 0
    window_kv_tokens: float = 0

    @property
    def tokens(self) -> float:
        return self.prefill_tokens + self.decode_tokens

    def __add__(self, other: StepShape) -> StepShape:
        return StepShape(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, factor: float) -> StepShape:
        return StepShape(*(getattr(self, f.name) * factor for f in fields(self)))


def causal_pairs(num_tokens: int, offset: int, window: int | None = None) -> int:
    """(query, key) pairs of num_tokens new tokens after offset cached ones: token i attends to min(i, window)."""

    def upto(n: int) -> int:
        if window is None or n <= window:
            return n * (n + 1) // 2
        return window * (window + 1) // 2 + (n - window) * window

    return upto(offset + num_tokens) - upto(offset)


def window_keys(num_tokens: int, offset: int, window: int) -> int:
    """KV entries a chunk reads or writes in a sliding layer: the window before its first token and itself."""
    return min(offset + num_tokens, window - 1 + num_tokens)


def chunk_shape(num_tokens: int, offset: int, window: int | None) -> StepShape:
    """One request's prefill chunk of num_tokens after offset cached tokens (it computes one logit row)."""
    return StepShape(
        prefill_tokens=num_tokens,
        prefill_pairs=causal_pairs(num_tokens, offset),
        kv_tokens=offset + num_tokens,
        num_logits=1,
        window_prefill_pairs=causal_pairs(num_tokens, offset, window) if window else 0,
        window_kv_tokens=window_keys(num_tokens, offset, window) if window else 0,
    )


def decode_shape(batch_size: int, context_tokens: int, window: int | None) -> StepShape:
    """batch_size sequences decoding one token each, attending to context_tokens keys (the new one included)."""
    held = min(context_tokens, window) if window else 0
    return StepShape(
        decode_tokens=batch_size,
        decode_pairs=batch_size * context_tokens,
        kv_tokens=batch_size * context_tokens,
        num_logits=batch_size,
        window_decode_pairs=batch_size * held,
        window_kv_tokens=batch_size * held,
    )


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


def comm_formula() -> str:
    """The all-reduce term as the explanations print it."""
    return (
        f"{ALLREDUCES_PER_LAYER} x layers x (allreduce_latency + 2 (tp-1)/tp x padded tokens x hidden x "
        f"{ACTIVATION_BYTES:g} B / (link x interconnect_efficiency)) when tp > 1"
    )


def expected_experts_touched(num_experts: int, top_k: int, num_tokens: float) -> float:
    """Distinct experts num_tokens independent tokens route to, per MoE layer: E x (1 - (1 - k/E)^tokens)."""
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** num_tokens)


class StepCost:
    """The terms for one model deployment on one GPU type; `terms` is the simulator's hot path."""

    __slots__ = (
        "attn_flops_per_pair",
        "bytes_per_s",
        "comm_fixed_s",
        "comm_s_per_token",
        "decode_flops_per_s",
        "dense_weight_bytes",
        "expert_keep",
        "expert_weight_bytes",
        "facts",
        "kv_bytes_per_token",
        "linear_flops_per_token",
        "lm_head_flops_per_logit",
        "prefill_attn_flops_per_pair",
        "prefill_flops_per_s",
        "rates",
        "sliding_window",
        "window_attn_flops_per_pair",
        "window_kv_bytes_per_token",
        "window_prefill_attn_flops_per_pair",
    )

    def __init__(self, facts: ModelCostFacts, rates: Rates) -> None:
        self.facts = facts
        self.rates = rates
        self.bytes_per_s = rates.hbm_bytes_per_s * rates.mem_bw_efficiency
        self.prefill_flops_per_s = rates.peak_flops_per_s * rates.mfu_prefill
        self.decode_flops_per_s = rates.peak_flops_per_s * rates.mfu_decode
        tp = facts.tensor_parallel_size
        num_allreduces = ALLREDUCES_PER_LAYER * facts.num_layers if tp > 1 else 0
        link_bytes_per_s = rates.link_bytes_per_s * rates.interconnect_efficiency
        # A ring all-reduce moves 2 (tp-1)/tp of the buffer over each GPU's link.
        self.comm_s_per_token = (
            num_allreduces * 2 * (tp - 1) / tp * facts.hidden_size * ACTIVATION_BYTES / link_bytes_per_s
        )
        self.comm_fixed_s = num_allreduces * rates.allreduce_latency_s
        self.dense_weight_bytes = facts.dense_weight_bytes
        self.expert_weight_bytes = facts.expert_weight_bytes
        self.expert_keep = 1.0 - facts.experts_per_token / facts.num_experts if facts.num_experts else 1.0
        self.kv_bytes_per_token = facts.kv_bytes_per_token
        self.linear_flops_per_token = facts.linear_flops_per_token
        self.lm_head_flops_per_logit = facts.lm_head_flops_per_logit
        self.attn_flops_per_pair = facts.attn_flops_per_pair
        # Prefill attention runs at prefill_attention_rate x the GEMMs' rate: its FLOPs are counted at the GEMM
        # rate as FLOPs / rate, so `terms` keeps one prefill division.
        self.prefill_attn_flops_per_pair = facts.prefill_attn_flops_per_pair / rates.prefill_attention_rate
        self.sliding_window = facts.sliding_window
        self.window_kv_bytes_per_token = facts.window_kv_bytes_per_token
        self.window_attn_flops_per_pair = facts.window_attn_flops_per_pair
        self.window_prefill_attn_flops_per_pair = (
            facts.window_attn_flops_per_pair / rates.prefill_attention_rate
        )

    def expert_fraction(self, num_tokens: float) -> float:
        """Expected share of routed experts a step touches: 1 - (1 - k/E)^tokens (uniform routing)."""
        if not self.expert_weight_bytes or num_tokens == 0:
            return 0.0
        return 1.0 - self.expert_keep**num_tokens

    def weight_bytes_read(self, num_tokens: float) -> float:
        return self.dense_weight_bytes + self.expert_weight_bytes * self.expert_fraction(num_tokens)

    def terms(
        self,
        prefill_tokens: Any,
        decode_tokens: Any,
        padded_tokens: Any,
        prefill_pairs: Any,
        decode_pairs: Any,
        kv_tokens: Any,
        num_logits: Any,
        window_prefill_pairs: Any = 0,
        window_decode_pairs: Any = 0,
        window_kv_tokens: Any = 0,
    ) -> tuple[Any, Any, Any]:
        """(memory_s, compute_s, comm_s) of one step; numpy arrays in, arrays out.

        Only +, *, / on the same operands in the same order, so scalars and arrays give identical IEEE results.
        """
        weights = self.dense_weight_bytes
        if self.expert_weight_bytes:
            weights = weights + self.expert_weight_bytes * self.expert_fraction(
                prefill_tokens + decode_tokens
            )
        kv_bytes = self.kv_bytes_per_token * kv_tokens
        prefill_flops = (
            self.linear_flops_per_token * prefill_tokens + self.prefill_attn_flops_per_pair * prefill_pairs
        )
        decode_flops = (
            self.linear_flops_per_token * (padded_tokens - prefill_tokens)
            + self.attn_flops_per_pair * decode_pairs
            + self.lm_head_flops_per_logit * num_logits
        )
        if self.sliding_window:
            kv_bytes = kv_bytes + self.window_kv_bytes_per_token * window_kv_tokens
            prefill_flops = prefill_flops + self.window_prefill_attn_flops_per_pair * window_prefill_pairs
            decode_flops = decode_flops + self.window_attn_flops_per_pair * window_decode_pairs
        memory_s = (weights + kv_bytes) / self.bytes_per_s
        compute_s = prefill_flops / self.prefill_flops_per_s + decode_flops / self.decode_flops_per_s
        comm_s = self.comm_fixed_s + self.comm_s_per_token * padded_tokens
        return memory_s, compute_s, comm_s

    def time(self, shape: StepShape, padded_tokens: float | None = None) -> StepTime:
        """The terms of one step of the given shape (padded_tokens: the CUDA graph's size, default unpadded)."""
        memory_s, compute_s, comm_s = self.terms(
            shape.prefill_tokens,
            shape.decode_tokens,
            shape.tokens if padded_tokens is None else padded_tokens,
            shape.prefill_pairs,
            shape.decode_pairs,
            shape.kv_tokens,
            shape.num_logits,
            shape.window_prefill_pairs,
            shape.window_decode_pairs,
            shape.window_kv_tokens,
        )
        return StepTime(compute_s=compute_s, memory_s=memory_s, comm_s=comm_s)

    def comm_s(self, num_tokens: float) -> float:
        """All-reduce time of a step over num_tokens (padded) tokens."""
        return self.comm_fixed_s + self.comm_s_per_token * num_tokens
