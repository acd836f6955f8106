"""Prompt structure from the text of logged requests, without a tokenizer: which text is shared by many
requests (static instructions, system prompts) and whether varying text comes before it, where it stops a prefix
cache from reusing what follows (vLLM's prefix cache matches whole blocks from the first token on).

Prompts are cut into sentences and lines ("chunks": text up to and including `.`, `!`, `?`, `;`, `:` or a
newline). A chunk is static when at least a tenth of the requests (and two) contain it. A request's static text
after its first varying chunk is text the prefix cache cannot serve, however often it repeats. Varying text
inside the same sentence as static text is not told apart: the share found is a lower bound.

Text blocks stand for token blocks where no token ids are at hand: a block is `block_size` tokens' worth of
characters at the sample's own characters-per-token ratio, so two prompts that share their first N characters
share about N / chars-per-block leading blocks, which is what the planner's prefix-reuse replay and the
simulator's block manager need (`RequestSpec.prefix_block_ids`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_BOUNDARY = re.compile(r"(?<=[.!?;:\n])")
COMMON_REQUEST_FRACTION = 0.1


def chunks(text: str) -> list[str]:
    """Sentences and lines, whitespace kept, so that "".join(chunks(t)) == t."""
    return [c for c in _BOUNDARY.split(text) if c]


@dataclass(frozen=True, slots=True)
class PromptStructure:
    num_requests: int
    # Minimum number of requests a chunk must appear in to count as static.
    common_min_requests: int
    # Shares of all prompt characters: static text, static text before any varying text, and static text after
    # varying text (the part a prefix cache cannot serve).
    static_fraction: float
    leading_static_fraction: float
    blocked_static_fraction: float
    # Requests where varying text precedes static text, and the mean characters of that varying text.
    blocked_request_fraction: float
    mean_blocking_chars: float
    example_blocking_text: str | None
    static_chunks: frozenset[str]

    def reordered(self, text: str) -> str:
        """The prompt with its static chunks first (in their order), then its varying ones: the fix."""
        parts = chunks(text)
        return "".join(
            [c for c in parts if c in self.static_chunks] + [c for c in parts if c not in self.static_chunks]
        )


def analyze_prompts(texts: Sequence[str]) -> PromptStructure | None:
    """None when there are fewer than two prompts with text."""
    split = [chunks(t) for t in texts if t]
    n = len(split)
    if n < 2:
        return None
    counts: Counter[str] = Counter()
    for parts in split:
        counts.update(set(parts))
    min_requests = max(2, math.ceil(COMMON_REQUEST_FRACTION * n))
    static = frozenset(c for c, k in counts.items() if k >= min_requests)
    total = static_chars = leading = blocked = 0
    blocked_requests = 0
    blocking_chars = 0
    example: str | None = None
    for parts in split:
        first_varying = next((i for i, c in enumerate(parts) if c not in static), len(parts))
        lead = sum(len(c) for c in parts[:first_varying])
        after = sum(len(c) for c in parts[first_varying + 1 :] if c in static)
        total += sum(len(c) for c in parts)
        static_chars += lead + after
        leading += lead
        blocked += after
        if after > 0:
            blocked_requests += 1
            varying_before = parts[first_varying]
            blocking_chars += len(varying_before)
            if example is None:
                example = varying_before.strip()[:120]
    return PromptStructure(
        num_requests=n,
        common_min_requests=min_requests,
        static_fraction=static_chars / total if total else 0.0,
        leading_static_fraction=leading / total if total else 0.0,
        blocked_static_fraction=blocked / total if total else 0.0,
        blocked_request_fraction=blocked_requests / n,
        mean_blocking_chars=blocking_chars / blocked_requests if blocked_requests else 0.0,
        example_blocking_text=example,
        static_chunks=static,
    )


def chars_per_token(texts: Sequence[str], prompt_tokens: Sequence[int]) -> float:
    chars = sum(len(t) for t in texts)
    tokens = sum(prompt_tokens)
    return chars / tokens if tokens and chars else 4.0


def text_prefix_blocks(
    texts: Sequence[str], prompt_tokens: Sequence[int], block_size: int, ratio: float
) -> list[tuple[int, ...]]:
    """Chained block ids per prompt, one per `block_size` tokens: full blocks of `ratio * block_size` characters
    get ids by content (after an equal chain); a partial or missing block gets an id of its own."""
    block_chars = max(1, round(ratio * block_size))
    ids: dict[tuple[int, str], int] = {}
    out: list[tuple[int, ...]] = []
    for text, tokens in zip(texts, prompt_tokens, strict=True):
        chain: list[int] = []
        parent = -1
        for k in range(-(-tokens // block_size)):
            content = text[k * block_chars : (k + 1) * block_chars]
            if len(content) < block_chars:  # the text ran out before the tokens did: nothing to share
                key: tuple[int, str] = (parent, f"\0unique{len(ids)}")
            else:
                key = (parent, content)
            parent = ids.setdefault(key, len(ids))
            chain.append(parent)
        out.append(tuple(chain))
    return out
