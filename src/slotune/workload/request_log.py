"""Request-log statistics: sampling parameters, stop use, max_tokens against tokens generated, system prompts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from slotune.models import Distribution, RequestSpec
from slotune.models.workload_stats import MaxTokensStats, RequestLogStats, SystemPromptStats


def _system_prompt_key(r: RequestSpec, hash_block_size: int) -> tuple[object, ...] | None:
    """What identifies a request's system prompt: its token ids, else its prefix block ids."""
    n = r.system_prompt_tokens
    if not n:
        return None
    if r.prompt_token_ids is not None:
        return tuple(r.prompt_token_ids[:n])
    if r.prefix_block_ids:
        return (n, *r.prefix_block_ids[: -(-n // hash_block_size)])
    return None


def system_prompt_stats(requests: Sequence[RequestSpec], hash_block_size: int) -> SystemPromptStats | None:
    keys = [_system_prompt_key(r, hash_block_size) for r in requests]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    shared_key, shared_count = counts.most_common(1)[0]
    shared_tokens = next(
        r.system_prompt_tokens or 0 for r, k in zip(requests, keys, strict=True) if k == shared_key
    )
    total_prompt = sum(r.prompt_tokens for r in requests)
    return SystemPromptStats(
        num_distinct=len(counts),
        shared_tokens=shared_tokens,
        shared_request_fraction=shared_count / len(requests),
        shared_prompt_token_fraction=shared_count * shared_tokens / total_prompt,
    )


def max_tokens_stats(requests: Sequence[RequestSpec]) -> MaxTokensStats | None:
    pairs = [
        (r.sampling.max_tokens, r.output_tokens)
        for r in requests
        if r.sampling is not None and r.sampling.max_tokens and not r.is_output_estimated
    ]
    if not pairs:
        return None
    limit = np.array([p[0] for p in pairs], dtype=np.float64)
    generated = np.array([p[1] for p in pairs], dtype=np.float64)
    return MaxTokensStats(
        num_requests=len(pairs),
        max_tokens=Distribution.of(limit),
        generated_tokens=Distribution.of(generated),
        used_fraction=Distribution.of(generated / limit),
        hit_limit_fraction=float((generated >= limit).mean()),
    )


def request_log_stats(requests: Sequence[RequestSpec], hash_block_size: int) -> RequestLogStats | None:
    """None when the workload carries no sampling parameters (a trace of lengths only)."""
    sampled = [r for r in requests if r.sampling is not None]
    if not sampled:
        return None
    n = len(sampled)
    temps = [r.sampling.temperature for r in sampled if r.sampling is not None]
    stops = [
        r.sampling
        for r in sampled
        if r.sampling is not None and (r.sampling.stop or r.sampling.stop_token_ids)
    ]
    with_max = [r for r in sampled if r.sampling is not None and r.sampling.max_tokens is not None]
    return RequestLogStats(
        num_requests=n,
        temperature_set_fraction=sum(t is not None for t in temps) / n,
        temperature_positive_fraction=sum(t is None or t > 0 for t in temps) / n,
        stop_fraction=len(stops) / n,
        max_tokens_set_fraction=len(with_max) / n,
        max_tokens=max_tokens_stats(sampled),
        system_prompt=system_prompt_stats(requests, hash_block_size),
    )
