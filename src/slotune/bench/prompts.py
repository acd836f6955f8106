"""Prompts of exact token lengths, with shared prefixes that follow a workload's prefix-block ids.

How exactness is reached: from the tokenizer's vocabulary we keep a pool of "stable words", tokens that
decode to a space plus lowercase letters and encode back to themselves alone. A byte-level BPE (GPT-2,
Llama 3, Qwen) or SentencePiece tokenizer splits text at the space before each word, so a prompt made of N
pool words is exactly N tokens, and any prefix of it is a token prefix: equal leading blocks give equal
leading KV blocks on the server, which is what prefix caching keys on. Without a local tokenizer the same
pool comes from the server's own tokenizer (`bench.server_words`, through vLLM's /tokenize).

Block contents are a pure function of (seed, block id, cycle), so two requests that share leading block
ids share their leading tokens, and nothing else is shared. When a short workload is cycled to fill a
longer run, each cycle gets fresh block contents: repeating the first pass would turn every prompt into a
cache hit that the workload never had.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from slotune.errors import InputError
from slotune.models import RequestSpec

WORD_TOKEN = re.compile(r"^[\u0120\u2581][a-z]{3,9}$")  # "Ġword" (byte-level BPE) or "▁word" (SentencePiece)
POOL_SIZE = 2048
_MIN_POOL = 64


_POOLS: dict[int, TokenPool] = {}  # by id(tokenizer); each entry holds its tokenizer, so the id stays unique


def count_tokens(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
    """Tokens per text, without special tokens (Rust, batched)."""
    if not texts:
        return []
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


@dataclass(frozen=True, slots=True)
class TokenPool:
    ids: np.ndarray  # int64 token ids
    texts: tuple[str, ...]  # what each id decodes to (" word")
    max_size: int = POOL_SIZE
    owner: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:  # picklable without the (Rust) tokenizer
        return {"ids": self.ids, "texts": self.texts, "max_size": self.max_size, "owner": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def __len__(self) -> int:
        return len(self.texts)

    def render(self, indices: np.ndarray) -> str:
        texts = self.texts
        return "".join([texts[i] for i in indices.tolist()])


def stable_word_pool(tokenizer: Tokenizer, *, max_size: int = POOL_SIZE) -> TokenPool:
    """The pool of single-token words of this tokenizer (computed once per tokenizer object)."""
    cached = _POOLS.get(id(tokenizer))
    if cached is not None and cached.max_size == max_size and cached.owner is tokenizer:
        return cached
    pool = _build_pool(tokenizer, max_size=max_size)
    _POOLS[id(tokenizer)] = pool
    return pool


def _build_pool(tokenizer: Tokenizer, *, max_size: int) -> TokenPool:
    candidates = sorted(
        (i, s) for s, i in tokenizer.get_vocab(with_added_tokens=False).items() if WORD_TOKEN.match(s)
    )

    def stable() -> Iterator[tuple[int, str]]:
        for token_id, _ in candidates:
            text = tokenizer.decode([token_id], skip_special_tokens=False)
            if not (len(text) >= 4 and text[0] == " " and text[1:].isalpha() and text[1:].islower()):
                continue
            if tokenizer.encode(text, add_special_tokens=False).ids == [token_id]:
                yield token_id, text

    fix = "use the server model's own tokenizer.json (a byte-level BPE or SentencePiece tokenizer)"
    pool = pool_of(stable(), max_size=max_size, owner=tokenizer, fix=fix)
    text, expected = premise_sample(pool)
    check_premise(tokenizer.encode(text, add_special_tokens=False).ids, expected, fix=fix)
    return pool


def pool_of(words: Iterable[tuple[int, str]], *, max_size: int, owner: Any, fix: str) -> TokenPool:
    """The pool of the first `max_size` single-token words (token id, " word"), lowest ids first."""
    ids: list[int] = []
    texts: list[str] = []
    for token_id, text in words:
        ids.append(token_id)
        texts.append(text)
        if len(ids) >= max_size:
            break
    if len(ids) < _MIN_POOL:
        raise InputError(
            "tokenizer",
            f"{len(ids)} stable word tokens",
            fix,
            problem="too few single-token words to build prompts of exact length",
        )
    return TokenPool(ids=np.asarray(ids, dtype=np.int64), texts=tuple(texts), max_size=max_size, owner=owner)


def premise_sample(pool: TokenPool) -> tuple[str, list[int]]:
    """A long random sequence of pool words and the token ids it must tokenize to (one per word)."""
    sample = np.random.default_rng(0).integers(0, len(pool), size=512)
    return pool.render(sample), pool.ids[sample].tolist()


def check_premise(got: list[int], expected: list[int], *, fix: str) -> None:
    """N words must be N tokens, or no prompt length can be exact."""
    if got != expected:
        raise InputError(
            "tokenizer",
            "word pool",
            fix,
            problem="concatenated words do not tokenize one word per token with this tokenizer",
        )


@dataclass(frozen=True, slots=True)
class BuiltPrompt:
    prompt: str | list[int]
    # Tokens of our content (what the local tokenizer counts); the server adds `overhead` (BOS, chat template).
    content_tokens: int
    expected_prompt_tokens: int


class PromptBuilder:
    """Builds the prompt of each request of a run. Deterministic in (seed, spec, job index, cycle)."""

    def __init__(
        self,
        pool: TokenPool,
        *,
        seed: int,
        hash_block_size: int,
        overhead_tokens: int = 0,
        as_token_ids: bool = False,
    ) -> None:
        self.pool = pool
        self.seed = seed
        self.hash_block_size = hash_block_size
        self.overhead_tokens = overhead_tokens
        self.as_token_ids = as_token_ids
        self._blocks: dict[tuple[int, int], np.ndarray] = {}

    def _block(self, block_id: int, cycle: int) -> np.ndarray:
        key = (block_id, cycle)
        block = self._blocks.get(key)
        if block is None:
            rng = np.random.default_rng([self.seed, 1, cycle, block_id & 0xFFFFFFFFFFFF])
            block = rng.integers(0, len(self.pool), size=self.hash_block_size)
            if len(self._blocks) > 200_000:
                self._blocks.clear()  # bound memory on huge traces; contents are recomputable
            self._blocks[key] = block
        return block

    def _unique(self, job_index: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 2, job_index])
        return rng.integers(0, len(self.pool), size=n)

    def indices(self, spec: RequestSpec, *, job_index: int, cycle: int = 0) -> np.ndarray:
        n = max(1, spec.prompt_tokens - self.overhead_tokens)
        if not spec.prefix_block_ids:
            return self._unique(job_index, n)
        parts: list[np.ndarray] = []
        have = 0
        for block_id in spec.prefix_block_ids:
            if have >= n:
                break
            block = self._block(block_id, cycle)
            parts.append(block)
            have += len(block)
        if have < n:
            parts.append(self._unique(job_index, n - have))
        return np.concatenate(parts)[:n]

    def build(self, spec: RequestSpec, *, job_index: int, cycle: int = 0) -> BuiltPrompt:
        if spec.prompt_token_ids and self.as_token_ids:
            ids = list(spec.prompt_token_ids)
            return BuiltPrompt(ids, len(ids), len(ids))
        if spec.text is not None and not spec.prefix_block_ids:
            # Real text (ShareGPT, request logs): sent as is; its length is the server's to count.
            return BuiltPrompt(spec.text, spec.prompt_tokens - self.overhead_tokens, spec.prompt_tokens)
        idx = self.indices(spec, job_index=job_index, cycle=cycle)
        expected = len(idx) + self.overhead_tokens
        if self.as_token_ids:
            return BuiltPrompt(self.pool.ids[idx].tolist(), len(idx), expected)
        return BuiltPrompt(self.pool.render(idx), len(idx), expected)
