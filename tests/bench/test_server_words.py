"""Prompt words from a server's /tokenize: alignment of token strings to words, the fake server, and the
candidate list against the Qwen3 tokenizer the tests carry."""

from __future__ import annotations

import asyncio

import pytest
from fake_server import Behaviour, FakeOpenAIServer

from slotune.bench.prompts import PromptBuilder, count_tokens, pool_of, stable_word_pool
from slotune.bench.server_words import candidate_words, server_word_pool, single_token_words
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.errors import InputError
from slotune.models import RequestSpec

G = "\u0120"


def test_only_words_that_are_one_token_between_two_word_starts_count() -> None:
    strs = [f"{G}the", f"{G}walk", "ing", f"{G}cat", f"{G}the", f"{G}zebra", f"{G}dog"]
    ids = [10, 55, 56, 30, 10, 70, 20]
    got = list(
        single_token_words(ids, strs, frozenset({"the", "walking", "cat", "zebra", "dog"}) - {"zebra"})
    )
    # " walking" is two tokens, " zebra" is no candidate, " the" comes once; lowest id first.
    assert got == [(10, " the"), (20, " dog"), (30, " cat")]


def test_for_a_qwen_model_the_server_pool_is_the_local_pool(tokenizer) -> None:  # type: ignore[no-untyped-def]
    words = candidate_words()
    encoded = tokenizer.encode("".join(" " + w for w in words), add_special_tokens=False)
    found = single_token_words(encoded.ids, encoded.tokens, frozenset(words))
    from_server = pool_of(found, max_size=2048, owner=None, fix="-")
    local = stable_word_pool(tokenizer)
    assert from_server.texts == local.texts and (from_server.ids == local.ids).all()


def _pool_from(server: FakeOpenAIServer):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        conn = ConnectionPool(Endpoint(server.url))
        try:
            return await server_word_pool(conn, {}, server.model)
        finally:
            conn.close()

    return asyncio.run(go())


def test_a_pool_from_the_fake_servers_tokenize_gives_exact_prompt_lengths() -> None:
    with FakeOpenAIServer(Behaviour(max_word_letters=6)) as server:
        pool = _pool_from(server)
        assert server.state.tokenize_calls == 2  # the candidates, then the premise check
        vocab = dict(server.state.vocab)
    assert pool is not None and len(pool) == 2048
    # Words the fake tokenizer splits in two never enter the pool; every id is the server's own.
    assert all(4 <= len(t) <= 7 for t in pool.texts)
    assert [vocab[G + t[1:]] for t in pool.texts] == pool.ids.tolist()
    builder = PromptBuilder(pool, seed=0, hash_block_size=16)
    spec = RequestSpec(request_id="r", arrival_s=0, prompt_tokens=300, output_tokens=1)
    assert len(str(builder.build(spec, job_index=0).prompt).split()) == 300


def test_without_tokenize_there_is_no_server_pool() -> None:
    with FakeOpenAIServer(Behaviour(has_tokenize=False)) as server:
        assert _pool_from(server) is None


def test_the_candidate_words_cover_the_local_pool_with_room(tokenizer) -> None:  # type: ignore[no-untyped-def]
    words = candidate_words()
    assert len(words) == len(set(words)) == 4096
    assert all(w.isalpha() and w.islower() for w in words)
    # One word, one token, for every candidate in the tokenizer they were taken from.
    assert count_tokens(tokenizer, [" " + w for w in words]) == [1] * len(words)


def test_too_few_single_token_words_is_an_input_error_naming_the_flags() -> None:
    # A tokenizer that splits every word of three letters or more: no candidate is one token.
    with FakeOpenAIServer(Behaviour(max_word_letters=2)) as server, pytest.raises(InputError) as info:
        _pool_from(server)
    assert "--tokenizer" in str(info.value) and "--model" in str(info.value)
