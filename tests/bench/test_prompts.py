from __future__ import annotations

import pickle

from slotune.bench.prompts import PromptBuilder, count_tokens, stable_word_pool
from slotune.models import RequestSpec


def _spec(n: int, blocks: tuple[int, ...] = (), rid: str = "r") -> RequestSpec:
    return RequestSpec(request_id=rid, arrival_s=0, prompt_tokens=n, output_tokens=1, prefix_block_ids=blocks)


def test_prompts_have_exact_token_lengths(tokenizer) -> None:  # type: ignore[no-untyped-def]
    builder = PromptBuilder(stable_word_pool(tokenizer), seed=0, hash_block_size=16)
    lengths = [1, 2, 7, 16, 100, 1000, 4097]
    prompts = [builder.build(_spec(n), job_index=i) for i, n in enumerate(lengths)]
    assert count_tokens(tokenizer, [str(p.prompt) for p in prompts]) == lengths
    assert [p.expected_prompt_tokens for p in prompts] == lengths


def test_overhead_is_taken_off_the_content(tokenizer) -> None:  # type: ignore[no-untyped-def]
    builder = PromptBuilder(stable_word_pool(tokenizer), seed=0, hash_block_size=16, overhead_tokens=9)
    built = builder.build(_spec(50), job_index=0)
    assert count_tokens(tokenizer, [str(built.prompt)]) == [41]
    assert built.expected_prompt_tokens == 50


def test_shared_block_ids_share_exactly_their_tokens(tokenizer) -> None:  # type: ignore[no-untyped-def]
    pool = stable_word_pool(tokenizer)
    builder = PromptBuilder(pool, seed=1, hash_block_size=16)
    a = builder.indices(_spec(64, (1, 2, 3, 4)), job_index=0)
    b = builder.indices(_spec(64, (1, 2, 9, 10)), job_index=1)
    c = builder.indices(_spec(40, (1, 2, 3)), job_index=2)
    assert (a[:32] == b[:32]).all() and (a[32:48] != b[32:48]).any()
    assert (c == a[:40]).all()  # a shorter prompt over the same blocks is a token prefix
    # As text, the shared prefix tokenizes to the same leading tokens.
    ta, tb = (tokenizer.encode(pool.render(x), add_special_tokens=False).ids for x in (a, b))
    assert ta[:32] == tb[:32] and ta[32:48] != tb[32:48]


def test_requests_without_blocks_share_nothing_and_cycles_get_fresh_blocks(tokenizer) -> None:  # type: ignore[no-untyped-def]
    builder = PromptBuilder(stable_word_pool(tokenizer), seed=2, hash_block_size=16)
    x = builder.indices(_spec(32), job_index=0)
    y = builder.indices(_spec(32), job_index=1)
    assert (x[:16] != y[:16]).any()
    first = builder.indices(_spec(32, (5, 6)), job_index=0, cycle=0)
    again = builder.indices(_spec(32, (5, 6)), job_index=7, cycle=0)
    second = builder.indices(_spec(32, (5, 6)), job_index=0, cycle=1)
    assert (first == again).all() and (first != second).any()


def test_same_seed_same_prompts_other_seed_other_prompts(tokenizer) -> None:  # type: ignore[no-untyped-def]
    pool = stable_word_pool(tokenizer)
    p1 = PromptBuilder(pool, seed=3, hash_block_size=16).build(_spec(30), job_index=4).prompt
    p2 = PromptBuilder(pool, seed=3, hash_block_size=16).build(_spec(30), job_index=4).prompt
    p3 = PromptBuilder(pool, seed=4, hash_block_size=16).build(_spec(30), job_index=4).prompt
    assert p1 == p2 != p3


def test_token_id_prompts_and_pickling(tokenizer) -> None:  # type: ignore[no-untyped-def]
    pool = stable_word_pool(tokenizer)
    builder = PromptBuilder(pool, seed=0, hash_block_size=16, as_token_ids=True)
    built = builder.build(_spec(20), job_index=0)
    assert isinstance(built.prompt, list) and len(built.prompt) == 20
    assert tokenizer.encode(tokenizer.decode(built.prompt), add_special_tokens=False).ids == built.prompt
    clone = pickle.loads(pickle.dumps(builder))  # worker processes receive the builder
    assert clone.build(_spec(20), job_index=0).prompt == built.prompt
