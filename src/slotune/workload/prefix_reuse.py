"""Prefix-cache reuse: which prompt tokens a cache would already hold, requests taken in arrival order.

Blocks are chained as in vLLM's prefix cache: a block's identity is (identity of the block before it,
its own content), so a block matches only if every earlier block of the prompt matched too. Each chained
block gets a small integer id, exact (no hash collisions).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Sequence
from dataclasses import dataclass

from slotune.models import RequestSpec, Workload


@dataclass(slots=True)
class ChainedPrompt:
    block_ids: list[int]
    # Tokens in the last block (all others are full); prompt tokens outside any block are never cached.
    last_block_tokens: int
    prompt_tokens: int

    def tokens_of_first(self, num_blocks: int, block_size: int) -> int:
        if num_blocks == 0:
            return 0
        if num_blocks == len(self.block_ids):
            return (num_blocks - 1) * block_size + self.last_block_tokens
        return num_blocks * block_size


class _ChainIds:
    def __init__(self) -> None:
        self._ids: dict[tuple[int, object], int] = {}

    def chain(self, contents: Sequence[object]) -> list[int]:
        parent = -1
        out = []
        for content in contents:
            key = (parent, content)
            parent = self._ids.setdefault(key, len(self._ids))
            out.append(parent)
        return out


def chain_from_token_ids(requests: Sequence[RequestSpec], block_size: int) -> list[ChainedPrompt]:
    """Full blocks of `block_size` token ids (vLLM caches only full blocks; the tail is never a hit)."""
    ids = _ChainIds()
    prompts = []
    for r in requests:
        tokens = r.prompt_token_ids or ()
        n_full = len(tokens) // block_size
        blocks = [tokens[i * block_size : (i + 1) * block_size] for i in range(n_full)]
        prompts.append(ChainedPrompt(ids.chain(blocks), block_size, len(tokens)))
    return prompts


def chain_from_prefix_ids(requests: Sequence[RequestSpec], hash_block_size: int) -> list[ChainedPrompt]:
    """Blocks named by the trace (Mooncake hash_ids); the last block may be partial."""
    ids = _ChainIds()
    prompts = []
    for r in requests:
        n = len(r.prefix_block_ids)
        last = min(hash_block_size, r.prompt_tokens - (n - 1) * hash_block_size) if n else 0
        prompts.append(ChainedPrompt(ids.chain(r.prefix_block_ids), last, r.prompt_tokens))
    return prompts


@dataclass(frozen=True, slots=True)
class ReuseCount:
    hit_tokens: int
    prompt_tokens: int
    num_unique_blocks: int = 0
    cached_tokens: int = 0

    @property
    def token_fraction(self) -> float:
        return self.hit_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


def _num_leading_in(block_ids: Sequence[int], cached: Container[int]) -> int:
    """How many of the prompt's first blocks are cached: a prefix cache hits only up to the first miss."""
    for i, block_id in enumerate(block_ids):
        if block_id not in cached:
            return i
    return len(block_ids)


def unbounded_reuse(prompts: Sequence[ChainedPrompt], block_size: int) -> ReuseCount:
    seen: dict[int, int] = {}  # block id -> its tokens
    hit = total = 0
    for p in prompts:
        total += p.prompt_tokens
        hit += p.tokens_of_first(_num_leading_in(p.block_ids, seen), block_size)
        for i, b in enumerate(p.block_ids):
            seen.setdefault(b, p.last_block_tokens if i == len(p.block_ids) - 1 else block_size)
    return ReuseCount(hit, total, num_unique_blocks=len(seen), cached_tokens=sum(seen.values()))


def lru_reuse(prompts: Sequence[ChainedPrompt], capacity_blocks: int, block_size: int) -> ReuseCount:
    """An LRU cache of `capacity_blocks` blocks, requests one at a time (no two requests share time).

    After a request, its blocks become most recent in reverse order, as vLLM frees a finished request's
    blocks tail first: the tail is evicted before the prefix that other requests may share.
    """
    cache: OrderedDict[int, None] = OrderedDict()
    hit = total = 0
    for p in prompts:
        total += p.prompt_tokens
        hit += p.tokens_of_first(_num_leading_in(p.block_ids, cache), block_size)
        for b in reversed(p.block_ids):
            cache[b] = None
            cache.move_to_end(b)
        while len(cache) > capacity_blocks:
            cache.popitem(last=False)
    return ReuseCount(hit, total)


def chained_prompts(workload: Workload, block_size: int) -> tuple[str, int, list[ChainedPrompt]] | None:
    """(basis, block size, prompts): token ids of text first, else the trace's prefix block ids."""
    requests = workload.requests
    if requests and all(r.prompt_token_ids for r in requests):
        return "token_ids", block_size, chain_from_token_ids(requests, block_size)
    if any(r.prefix_block_ids for r in requests):
        return "hash_ids", workload.hash_block_size, chain_from_prefix_ids(requests, workload.hash_block_size)
    return None
