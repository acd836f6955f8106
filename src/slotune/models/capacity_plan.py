"""The output of phase 1 (napkin math), grouped by what each number is about.

A configuration that does not fit is a plan with `verdict.fits` False and its reasons. Whole-model figures and
per-GPU figures under tensor parallelism carry `_per_gpu` where both exist.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.cost import CostReport

# How `plan --gpu all` orders options: cheapest $/Mtok first, or most output tokens/s per GPU first.
RankBy = Literal["cost", "throughput-per-gpu"]


class Derivation(Frozen):
    """How one number was computed: the formula and its inputs, for `--explain`."""

    name: str
    value: float
    unit: str
    formula: str
    inputs: dict[str, float | int | str] = Field(default_factory=dict)


class PlanEngine(Frozen):
    """The engine flags the plan was computed for, with vLLM's GPU- and model-dependent defaults filled."""

    max_model_len: int
    max_num_batched_tokens: int
    max_num_seqs: int
    gpu_memory_utilization: float
    enforce_eager: bool = False


class WeightsPlan(Frozen):
    total_params: int
    active_params: int
    bytes: int  # whole model under the quantization (per GPU: memory.weights_bytes)
    compute_dtype: str  # the dtype the matmuls run in on this GPU


class MemoryBudget(Frozen):
    """vLLM's memory budget on one GPU: total x utilization, and what comes out of it before the KV cache."""

    gpu_memory_bytes: int
    gpu_memory_utilization: float
    budget_bytes: float
    weights_bytes: int  # this GPU's share under tensor parallelism
    rotary_cache_bytes: int
    activation_peak_bytes: int
    non_torch_bytes: int
    cuda_graph_bytes: int
    kv_cache_bytes: int  # what is left (negative: does not fit), or --kv-cache-memory-bytes


class KvPlan(Frozen):
    cache_dtype: str
    bytes_per_token: int  # whole model
    bytes_per_token_per_gpu: int
    block_size: int
    capacity_blocks: int
    capacity_tokens: int  # vLLM's "GPU KV cache size"
    max_concurrency: float  # requests of max_model_len at once
    max_concurrency_at_workload: float  # requests of mean prompt + mean output at once


class LatencyPlan(Frozen):
    """Roofline lower bounds: one request's prefill alone, and one decode step by batch size."""

    prompt_tokens_p50: int
    prompt_tokens_p99: int
    ttft_p50_s: float
    ttft_p99_s: float
    decode_context_tokens: int
    itl_by_batch_s: dict[int, float] = Field(default_factory=dict)
    # Smallest decode batch whose matmuls are compute-bound (None: memory-bound at every batch size).
    crossover_batch_size: int | None = None


class ThroughputPlan(Frozen):
    mean_prompt_tokens: float
    mean_output_tokens: float
    # One replica's steady output rate at the best batch (capped by KV capacity, max_num_seqs and any ITL target).
    output_tokens_per_s: float | None = None
    batch_size: int | None = None


class Verdict(Frozen):
    fits: bool
    reasons: tuple[str, ...] = ()
    # Smallest tensor-parallel size that fits (0: none up to the largest tried).
    min_tp: int
    # Roofline check against the SLO's latency targets: a lower bound, so False means it cannot be met.
    meets_slo: bool | None = None
    # Remarks that do not stop the plan (e.g. which defaults were assumed).
    notes: tuple[str, ...] = ()


class CapacityPlan(Frozen):
    model: str
    gpu: str
    tensor_parallel_size: int
    quantization: str
    # The hardware profile whose coefficients the latencies used (name@version).
    profile: str
    verdict: Verdict
    engine: PlanEngine
    weights: WeightsPlan
    memory: MemoryBudget
    kv: KvPlan
    latency: LatencyPlan
    throughput: ThroughputPlan
    # One replica of tensor_parallel_size GPUs at its roofline maximum throughput and the workload's mean lengths.
    cost: CostReport
    derivations: tuple[Derivation, ...] = ()

    @property
    def fits(self) -> bool:
        return self.verdict.fits


class PlanRanking(Frozen):
    """Every option that fits, best first by `rank_by`; GPUs left out because they have no price are named."""

    model: str
    rank_by: RankBy
    options: tuple[CapacityPlan, ...] = ()
    unpriced_gpus: tuple[str, ...] = ()
