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
