"""How long one engine step takes, from what its batch holds.

A step's batch is summarized by integer aggregates (so that a run of identical decode steps can be evaluated
as numpy arrays with bit-identical results, see engine.py):
  prefill_tokens / decode_tokens   tokens computed, split by phase (spec-decode verify tokens are decode)
  prefill_pairs / decode_pairs     causal attention (query, key) pairs: a chunk of n tokens at offset c has
                                   n*c + n(n+1)/2 pairs; a decode token at context c has c + 1
  kv_tokens                        KV entries read or written: offset + new tokens per scheduled request
  num_logits                       rows that go through the LM head (one per sampling sequence, k+1 with spec)

Per GPU (weights and heads split by tensor parallelism), one line per term:
  memory_s   = (weight_bytes_read + kv_bytes_per_token * kv_tokens) / (hbm_bytes_per_s * mem_bw_efficiency)
  compute_s  = prefill_flops / (peak * mfu_prefill) + decode_flops / (peak * mfu_decode)
  comm_s     = 2 * num_layers * (latency + 2 (tp-1)/tp * padded_tokens * hidden * act_bytes / link_bw)   (tp > 1)
  launch_s   = graph replay | piecewise graphs (attention eager) per layer | fully eager per layer
  gpu_s      = max(memory_s, compute_s) + comm_s + launch_s   (+ draft-model cost with speculative decoding)
  cpu_s      = step_cpu_s + cpu_per_seq_s * num_seqs
  step_s     = max(gpu_s, cpu_s) with async scheduling (CPU work overlaps the GPU), gpu_s + cpu_s without.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from slotune.models import GpuSpec
from slotune.simulate.profile import HardwareProfile

ACTIVATION_BYTES = 2.0  # bf16 activations in every all-reduce


@dataclass(frozen=True, slots=True)
class ModelCostFacts:
    """Per-GPU facts of one model deployment (model x quantization x KV dtype x tensor parallelism)."""

    num_layers: int
    hidden_size: int
    tensor_parallel_size: int
    # Weights read by every step: everything but the routed experts.
    dense_weight_bytes: float
    # Routed MoE experts (0 for dense models); a step reads only the experts its tokens are routed to.
    expert_weight_bytes: float
    num_experts: int
    experts_per_token: int
    kv_bytes_per_token: float
    # 2 x matmul parameters used per token (attention projections, MLP or top-k experts), lm_head excluded.
    linear_flops_per_token: float
    lm_head_flops_per_logit: float
    # FLOPs of one causal attention (query, key) pair summed over layers: QK^T and PV.
    attn_flops_per_pair: float
    # Matmul dtype whose peak applies ("bf16", "fp8", "int8").
    compute_dtype: str = "bf16"


def default_capture_sizes(
    max_num_seqs: int, max_num_batched_tokens: int, num_spec_tokens: int = 0
) -> tuple[int, ...]:
    """vLLM's default CUDA-graph capture sizes (vllm/config/vllm.py `_set_cudagraph_sizes`):
    [1, 2, 4] + range(8, 256, 8) + range(256, max + 1, 16), max = min(max_num_seqs * query_len * 2, 512,
    max_num_batched_tokens); with speculative decoding every size rounds up to a multiple of k + 1."""
    query_len = 1 + num_spec_tokens
    max_size = min(max_num_seqs * query_len * 2, 512, max_num_batched_tokens)
    sizes = [s for s in (1, 2, 4) if s <= max_size]
    if max_size >= 8:
        sizes += list(range(8, min(max_size + 1, 256), 8))
    if max_size >= 256:
        sizes += list(range(256, max_size + 1, 16))
    if num_spec_tokens:
        sizes = [-(-s // query_len) * query_len for s in sizes]
        sizes = [s for s in sizes if s <= max_num_batched_tokens]
    return tuple(sorted(set(sizes)))


class CostModel:
    """Step durations for one model on one GPU type under one engine configuration."""

    def __init__(
        self,
        facts: ModelCostFacts,
        gpu: GpuSpec,
        profile: HardwareProfile,
        *,
        enforce_eager: bool,
        capture_sizes: tuple[int, ...],
        async_scheduling: bool,
        num_spec_tokens: int = 0,
        draft_cost_ratio: float = 0.0,
    ) -> None:
        c = profile.coefficients
        self.facts = facts
        self.bytes_per_s = gpu.hbm_bytes_per_s * (c.mem_bw_efficiency or gpu.mem_bw_efficiency)
        peak = gpu.peak_flops_per_s(facts.compute_dtype) or gpu.peak_flops_per_s("bf16")
        if peak is None:
            raise ValueError(f"GPU {gpu.name} has no bf16 peak FLOP/s in the catalog")
        self.prefill_flops_per_s = peak * (c.mfu_prefill or gpu.mfu_prefill)
        self.decode_flops_per_s = peak * (c.mfu_decode or gpu.mfu_decode)
        tp = facts.tensor_parallel_size
        num_allreduces = 2 * facts.num_layers if tp > 1 else 0
        link_bytes_per_s = gpu.intra_node_bytes_per_s * c.interconnect_efficiency
        # Ring all-reduce moves 2 (tp-1)/tp of the buffer over each link.
        self.comm_s_per_token = (
            num_allreduces * 2 * (tp - 1) / tp * facts.hidden_size * ACTIVATION_BYTES / link_bytes_per_s
        )
        self.comm_fixed_s = num_allreduces * c.allreduce_latency_s
        self.async_scheduling = async_scheduling
        self.step_cpu_s = c.step_cpu_s
        self.cpu_per_seq_s = c.cpu_per_seq_s
        self.enforce_eager = enforce_eager
        self.full_graph_s = c.graph_launch_s
        self.piecewise_s = c.piecewise_launch_per_layer_s * facts.num_layers
        self.eager_s = c.eager_launch_per_layer_s * facts.num_layers
        self.capture_sizes = () if enforce_eager else tuple(sorted(capture_sizes))
        self.max_capture_size = self.capture_sizes[-1] if self.capture_sizes else 0
        # pad_to[n]: the CUDA graph a batch of n tokens replays (the next capture size up).
        pad_to = [0] * (self.max_capture_size + 1)
        size_index = 0
        for n in range(1, self.max_capture_size + 1):
            while self.capture_sizes[size_index] < n:
                size_index += 1
            pad_to[n] = self.capture_sizes[size_index]
        self._pad_to = pad_to
        self.num_spec_tokens = num_spec_tokens
        self.draft_factor = num_spec_tokens * draft_cost_ratio

    def graph(self, num_tokens: int, is_uniform_decode: bool) -> tuple[int, float]:
        """(padded tokens, launch overhead): FULL graphs for uniform decode batches, PIECEWISE graphs for mixed
        batches up to the largest capture size, no graph above it or with --enforce-eager."""
        if num_tokens > self.max_capture_size:
            return num_tokens, self.eager_s
        padded = self._pad_to[num_tokens]
        return padded, (self.full_graph_s if is_uniform_decode else self.piecewise_s)

    def expert_fraction(self, num_tokens: int) -> float:
        """Expected share of routed experts a step touches: 1 - (1 - k/E)^tokens (uniform routing)."""
        f = self.facts
        if f.num_experts == 0 or num_tokens == 0:
            return 0.0
        return 1.0 - (1.0 - f.experts_per_token / f.num_experts) ** num_tokens

    def _terms(
        self,
        prefill_tokens: int,
        decode_tokens: int,
        padded: int,
        prefill_pairs: int,
        decode_pairs: Any,
        kv_tokens: Any,
        num_logits: int,
    ) -> tuple[Any, Any, float]:
        # Shared by the scalar and the array path: only +, *, / so both give identical IEEE results.
        f = self.facts
        tokens = prefill_tokens + decode_tokens
        weights = f.dense_weight_bytes + f.expert_weight_bytes * self.expert_fraction(tokens)
        memory_s = (weights + f.kv_bytes_per_token * kv_tokens) / self.bytes_per_s
        prefill_flops = f.linear_flops_per_token * prefill_tokens + f.attn_flops_per_pair * prefill_pairs
        decode_flops = (
            f.linear_flops_per_token * (padded - prefill_tokens)
            + f.attn_flops_per_pair * decode_pairs
            + f.lm_head_flops_per_logit * num_logits
        )
        compute_s = prefill_flops / self.prefill_flops_per_s + decode_flops / self.decode_flops_per_s
        comm_s = self.comm_fixed_s + self.comm_s_per_token * padded
        return memory_s, compute_s, comm_s

    def step_s(
        self,
        *,
        num_seqs: int,
        prefill_tokens: int,
        decode_tokens: int,
        prefill_pairs: int,
        decode_pairs: int,
        kv_tokens: int,
        num_logits: int,
        num_spec_seqs: int = 0,
    ) -> float:
        """Duration of one engine step."""
        tokens = prefill_tokens + decode_tokens
        padded, launch_s = self.graph(tokens, prefill_tokens == 0)
        memory_s, compute_s, comm_s = self._terms(
            prefill_tokens, decode_tokens, padded, prefill_pairs, decode_pairs, kv_tokens, num_logits
        )
        gpu_s = (memory_s if memory_s >= compute_s else compute_s) + comm_s + launch_s
        if num_spec_seqs:
            gpu_s = gpu_s + gpu_s * self.draft_factor
        cpu_s = self.step_cpu_s + self.cpu_per_seq_s * num_seqs
        if self.async_scheduling:
            return gpu_s if gpu_s >= cpu_s else cpu_s
        return gpu_s + cpu_s

    def decode_run_s(self, num_seqs: int, kv_tokens: np.ndarray) -> np.ndarray:
        """Durations of consecutive decode-only steps of the same `num_seqs` one-token sequences whose total
        context is `kv_tokens` (one value per step). Equal, bit for bit, to `step_s` called step by step."""
        padded, launch_s = self.graph(num_seqs, True)
        memory_s, compute_s, comm_s = self._terms(0, num_seqs, padded, 0, kv_tokens, kv_tokens, num_seqs)
        gpu_s = np.maximum(memory_s, compute_s) + comm_s + launch_s
        cpu_s = self.step_cpu_s + self.cpu_per_seq_s * num_seqs
        if self.async_scheduling:
            return np.maximum(gpu_s, cpu_s)
        return gpu_s + cpu_s
