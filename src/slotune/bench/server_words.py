"""Prompt words from the served model's own tokenizer, through the server's `/tokenize`, for runs without a
tokenizer file.

vLLM serves POST /tokenize {"model", "prompt", "add_special_tokens", "return_token_strs"} ->
{"count", "max_model_len", "tokens", "token_strs"} (vllm/entrypoints/serve/tokenize/protocol.py in 0.32;
`return_token_strs` since 0.8). The vocabulary itself is not served, so the pool is found from the other
side: one request tokenizes a few thousand candidate words (prompt_words.json), and the words that come back
as one token of their own, "Ġword" or "▁word" between two word starts, are the pool, lowest ids first, as
for a local tokenizer. A second request checks the premise of exact lengths on a random sample of pool words.
Neither generates, so the server's counters stay the run's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from slotune.bench.fetch import post_json
from slotune.bench.prompts import POOL_SIZE, WORD_TOKEN, TokenPool, check_premise, pool_of, premise_sample
from slotune.bench.transport import ConnectionPool

CANDIDATE_WORDS_FILE = Path(__file__).with_name("prompt_words.json")
_WORD_STARTS = ("\u0120", "\u2581")
_FIX = "pass --tokenizer with the served model's tokenizer.json, or the model folder as --model"


@lru_cache(maxsize=1)
def candidate_words() -> tuple[str, ...]:
    return tuple(json.loads(CANDIDATE_WORDS_FILE.read_text(encoding="utf-8"))["words"])


def single_token_words(
    token_ids: Sequence[int], token_strs: Sequence[str], candidates: frozenset[str]
) -> Iterator[tuple[int, str]]:
    """(token id, " word") of each candidate that tokenized to one token between two word starts, lowest id
    first, each id once."""
    found: dict[int, str] = {}
    n = len(token_strs)
    for k, piece in enumerate(token_strs):
        alone = k + 1 == n or token_strs[k + 1].startswith(_WORD_STARTS)
        if alone and WORD_TOKEN.match(piece) and piece[1:] in candidates:
            found.setdefault(int(token_ids[k]), " " + piece[1:])
    return iter(sorted(found.items()))


async def _tokenize(
    pool: ConnectionPool, headers: dict[str, str], model: str, text: str, *, timeout_s: float
) -> tuple[list[int], list[str]] | None:
    """The server's tokens and token strings of `text` (no special tokens); None without a usable /tokenize."""
    body = {"model": model, "prompt": text, "add_special_tokens": False, "return_token_strs": True}
    resp = await post_json(pool, "/tokenize", body, headers=headers, timeout_s=timeout_s)
    if resp.status != 200:
        return None
    try:
        data: Any = resp.json()
        ids = [int(t) for t in data["tokens"]]
        strs = [str(s) for s in data["token_strs"]]
    except Exception:  # not vLLM's answer (no token_strs before vLLM 0.8): as if there were no /tokenize
        return None
    return (ids, strs) if len(ids) == len(strs) else None


async def server_word_pool(
    pool: ConnectionPool,
    headers: dict[str, str],
    model: str,
    *,
    max_size: int = POOL_SIZE,
    timeout_s: float = 30.0,
) -> TokenPool | None:
    """The pool of single-token prompt words of the served model; None when the server has no /tokenize."""
    words = candidate_words()
    got = await _tokenize(pool, headers, model, "".join(" " + w for w in words), timeout_s=timeout_s)
    if got is None:
        return None
    found = single_token_words(*got, frozenset(words))
    word_pool = pool_of(found, max_size=max_size, owner=None, fix=_FIX)
    text, expected = premise_sample(word_pool)
    checked = await _tokenize(pool, headers, model, text, timeout_s=timeout_s)
    check_premise(checked[0] if checked is not None else [], expected, fix=_FIX)
    return word_pool
