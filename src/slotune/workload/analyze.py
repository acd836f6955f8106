"""Phase 0: the statistics of a workload (lengths, arrivals, prefix reuse, request-log habits)."""

from __future__ import annotations

import numpy as np

from slotune.errors import InputError
from slotune.models import Distribution, Workload
from slotune.models.workload_stats import PrefixReuse, WorkloadStats
from slotune.workload.arrivals import arrival_stats
from slotune.workload.digest import workload_digest
from slotune.workload.prefix_reuse import chained_prompts, lru_reuse, unbounded_reuse
from slotune.workload.request_log import request_log_stats


def prefix_reuse_of(workload: Workload, *, block_size: int, cache_blocks: int | None) -> PrefixReuse:
    chained = chained_prompts(workload, block_size)
    if chained is None:
        return PrefixReuse(basis="none")
    basis, unit, prompts = chained
    unbounded = unbounded_reuse(prompts, unit)
    lru_fraction = None
    if cache_blocks is not None:
        # --cache-blocks counts vLLM blocks of `block_size` tokens; trace blocks may be larger (Mooncake: 512).
        capacity_units = cache_blocks * block_size // unit
        lru_fraction = lru_reuse(prompts, capacity_units, unit).token_fraction
    return PrefixReuse(
        basis="token_ids" if basis == "token_ids" else "hash_ids",
        block_size_tokens=unit,
        unbounded_token_fraction=unbounded.token_fraction,
        num_unique_blocks=unbounded.num_unique_blocks,
        unbounded_cache_tokens=unbounded.cached_tokens,
        cache_blocks=cache_blocks,
        cache_block_size=block_size if cache_blocks is not None else None,
        lru_token_fraction=lru_fraction,
    )


def analyze(workload: Workload, *, block_size: int = 16, cache_blocks: int | None = None) -> WorkloadStats:
    if block_size < 1:
        raise InputError("--block-size", block_size, "give a block size of at least 1 token (vLLM: 16)")
    if cache_blocks is not None and cache_blocks < 1:
        raise InputError("--cache-blocks", cache_blocks, "give a cache size of at least 1 block")
    requests = workload.requests
    if not requests:
        raise InputError(
            "workload", workload.name, "give a workload with at least one request", problem="empty"
        )
    arrivals = arrival_stats(np.array([r.arrival_s for r in requests]))
    prompt = np.array([r.prompt_tokens for r in requests])
    measured_output = [r.output_tokens for r in requests if not r.is_output_estimated]
    num_estimated = len(requests) - len(measured_output)
    output = measured_output or [r.output_tokens for r in requests]
    return WorkloadStats(
        name=workload.name,
        source=workload.source,
        digest=workload_digest(workload),
        num_requests=len(requests),
        has_arrival_times=arrivals.mean_rate_rps is not None,
        duration_s=arrivals.duration_s,
        mean_rate_rps=arrivals.mean_rate_rps,
        peak_1min_rate_rps=arrivals.peak_1min_rate_rps,
        peak_1s_requests=arrivals.peak_1s_requests,
        interarrival_cv=arrivals.interarrival_cv,
        prompt_tokens=Distribution.of(prompt),
        output_tokens=Distribution.of(output),
        num_output_estimated=num_estimated,
        total_prompt_tokens=int(prompt.sum()),
        total_output_tokens=int(sum(output)),
        prefix_reuse=prefix_reuse_of(workload, block_size=block_size, cache_blocks=cache_blocks),
        request_log=request_log_stats(requests, workload.hash_block_size),
    )
