"""A profile fitted to a real trace: its empirical (prompt, output) pairs, prefix structure and arrival rate/CV.

Synthesis resamples whole requests, so the joint length distribution and each request's prefix blocks
carry over. Two renamings keep the trace's prefix reuse: block ids that only one source request uses get
fresh ids on every draw (a request drawn twice must not hit its own private blocks), and shared ids get a
new name every time as many requests as the trace holds have been drawn (so a long synthetic run does not
reuse the trace's shared prefixes more often than the trace itself did).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from slotune.models import RequestSpec, SamplingParams, Workload
from slotune.workload.arrivals import arrival_stats
from slotune.workload.prefix_reuse import chain_from_token_ids


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    requests: tuple[RequestSpec, ...]
    # Prefix block ids per source request (from hash ids, or chained token-id blocks of text).
    prefix_ids: tuple[tuple[int, ...], ...]
    shared_ids: frozenset[int]
    hash_block_size: int
    rate_rps: float | None
    cv: float | None


def _prefix_ids_from_tokens(workload: Workload, block_size: int) -> tuple[tuple[int, ...], ...]:
    chained = chain_from_token_ids(workload.requests, block_size)
    out = []
    next_id = 1 + max((max(c.block_ids) for c in chained if c.block_ids), default=-1)
    for r, c in zip(workload.requests, chained, strict=True):
        # The partial tail block (never cached) gets an id of its own, unique to the request.
        ids = list(c.block_ids)
        while len(ids) < -(-r.prompt_tokens // block_size):
            ids.append(next_id)
            next_id += 1
        out.append(tuple(ids[: -(-r.prompt_tokens // block_size)]))
    return tuple(out)


def fit_profile(workload: Workload, *, block_size: int = 16) -> Profile:
    if all(r.prompt_token_ids for r in workload.requests):
        prefix_ids = _prefix_ids_from_tokens(workload, block_size)
        hash_block_size = block_size
    else:
        prefix_ids = tuple(r.prefix_block_ids for r in workload.requests)
        hash_block_size = workload.hash_block_size
    uses = Counter(b for ids in prefix_ids for b in set(ids))
    stats = arrival_stats(np.array([r.arrival_s for r in workload.requests]))
    return Profile(
        name=workload.name,
        requests=workload.requests,
        prefix_ids=prefix_ids,
        shared_ids=frozenset(b for b, n in uses.items() if n > 1),
        hash_block_size=hash_block_size,
        rate_rps=stats.mean_rate_rps,
        cv=stats.interarrival_cv,
    )


@dataclass(frozen=True, slots=True)
class DrawnRequest:
    prompt_tokens: int
    output_tokens: int
    is_output_estimated: bool
    prefix_block_ids: tuple[int, ...]
    sampling: SamplingParams | None
    system_prompt_tokens: int | None


def draw_requests(profile: Profile, rng: np.random.Generator, n: int) -> list[DrawnRequest]:
    picks = rng.integers(0, len(profile.requests), size=n)
    next_id = 0
    shared_names: dict[tuple[int, int], int] = {}
    drawn = []
    for k, i in enumerate(picks):
        source = profile.requests[int(i)]
        epoch = k // len(profile.requests)
        ids = []
        for b in profile.prefix_ids[int(i)]:
            if b in profile.shared_ids:
                name = shared_names.setdefault((epoch, b), next_id)
                next_id += name == next_id
            else:
                name = next_id
                next_id += 1
            ids.append(name)
        drawn.append(
            DrawnRequest(
                prompt_tokens=source.prompt_tokens,
                output_tokens=source.output_tokens,
                is_output_estimated=source.is_output_estimated,
                prefix_block_ids=tuple(ids),
                sampling=source.sampling,
                system_prompt_tokens=source.system_prompt_tokens,
            )
        )
    return drawn
