"""What `analyze` reports: frozen models, serialized as the `--json` output of `workload analyze`."""

from __future__ import annotations

from typing import Literal

from slotune.models.base import Frozen
from slotune.models.distribution import Distribution


class PrefixReuse(Frozen):
    """Share of prompt tokens a prefix cache would serve, requests taken one by one in arrival order."""

    # "hash_ids": from the trace's prefix block ids; "token_ids": hashing token ids of the text; "none": unknown.
    basis: Literal["hash_ids", "token_ids", "none"]
    block_size_tokens: int | None = None
    unbounded_token_fraction: float | None = None
    # Distinct blocks seen, and the tokens an unbounded cache would hold at the end.
    num_unique_blocks: int | None = None
    unbounded_cache_tokens: int | None = None
    # LRU cache of `cache_blocks` blocks of `cache_block_size` tokens (vLLM's KV blocks).
    cache_blocks: int | None = None
    cache_block_size: int | None = None
    lru_token_fraction: float | None = None


class SystemPromptStats(Frozen):
    num_distinct: int
    # The most common system prompt.
    shared_tokens: int
    shared_request_fraction: float
    # Fraction of all prompt tokens that copies of the shared system prompt take.
    shared_prompt_token_fraction: float


class MaxTokensStats(Frozen):
    num_requests: int
    max_tokens: Distribution
    generated_tokens: Distribution
    # generated / max_tokens per request.
    used_fraction: Distribution
    hit_limit_fraction: float


class RequestLogStats(Frozen):
    """Sampling-parameter use in request logs (anti-patterns: sampling on deterministic tasks, no stop)."""

    num_requests: int
    temperature_set_fraction: float
    # Unset temperature counts as positive: the OpenAI API and vLLM default to 1.0.
    temperature_positive_fraction: float
    stop_fraction: float
    max_tokens_set_fraction: float
    max_tokens: MaxTokensStats | None = None
    system_prompt: SystemPromptStats | None = None


class WorkloadStats(Frozen):
    name: str
    source: str
    digest: str
    num_requests: int
    has_arrival_times: bool
    duration_s: float
    mean_rate_rps: float | None = None
    peak_1min_rate_rps: float | None = None
    peak_1s_requests: int | None = None
    interarrival_cv: float | None = None
    prompt_tokens: Distribution
    output_tokens: Distribution
    # Requests whose output length is a stand-in, left out of `output_tokens` (unless all are).
    num_output_estimated: int = 0
    total_prompt_tokens: int
    # Over the same requests as `output_tokens`.
    total_output_tokens: int
    prefix_reuse: PrefixReuse
    request_log: RequestLogStats | None = None
