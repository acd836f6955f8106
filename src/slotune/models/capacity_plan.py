"""The output of phase 1 (napkin math). A configuration that does not fit is a plan with reasons."""

from __future__ import annotations

from pydantic import Field

from slotune.models.base import Frozen


class Derivation(Frozen):
    """How one number was computed: the formula and its inputs, for `--explain`."""

    name: str
    value: float
    unit: str
    formula: str
    inputs: dict[str, float | int | str] = Field(default_factory=dict)


class CapacityPlan(Frozen):
    model: str
    gpu: str
    tensor_parallel_size: int
    quantization: str
    kv_cache_dtype: str
    fits: bool
    reasons: tuple[str, ...] = ()
    total_params: int
    active_params: int
    weights_bytes: int
    kv_bytes_per_token: int
    kv_capacity_tokens: int
    kv_capacity_blocks: int
    block_size: int
    max_model_len: int
    max_num_batched_tokens: int
    max_concurrency: float
    max_concurrency_at_workload: float | None = None
    min_tp: int
    ttft_p50_s: float | None = None
    ttft_p99_s: float | None = None
    itl_by_batch_s: dict[int, float] = Field(default_factory=dict)
    crossover_batch_size: int | None = None
    max_output_tokens_per_s: float | None = None
    usd_per_mtok: float | None = None
    derivations: tuple[Derivation, ...] = ()
    # Per-GPU figures under tensor parallelism (weights_bytes and kv_bytes_per_token above are whole-model).
    weights_bytes_per_gpu: int | None = None
    kv_bytes_per_token_per_gpu: int | None = None
    # vLLM's memory budget on one GPU: total x utilization, and what comes out of it before the KV cache.
    gpu_memory_bytes: int | None = None
    gpu_memory_utilization: float | None = None
    activation_peak_bytes: int | None = None
    non_torch_bytes: int | None = None
    cuda_graph_bytes: int | None = None
    kv_cache_bytes: int | None = None
    max_num_seqs: int | None = None
    # Token lengths the latency figures were computed for (the workload's, or defaults when none was given).
    prompt_tokens_p50: int | None = None
    prompt_tokens_p99: int | None = None
    mean_prompt_tokens: float | None = None
    mean_output_tokens: float | None = None
    decode_context_tokens: int | None = None
    # Batch size behind max_output_tokens_per_s (capped by KV capacity, max_num_seqs and any ITL target).
    throughput_batch_size: int | None = None
    compute_dtype: str | None = None
    usd_per_gpu_hour: float | None = None
    price_source: str | None = None
    # Roofline check against the SLO's latency targets: a lower bound, so False means it cannot be met.
    meets_slo: bool | None = None
    # Remarks that do not stop the plan (e.g. which defaults were assumed).
    notes: tuple[str, ...] = ()
