"""Prefix reuse: hand-computed chained examples, LRU eviction order, properties, and the real slices."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotune.models import RequestSpec, Workload
from slotune.workload import analyze, read_workload
from slotune.workload.prefix_reuse import (
    chain_from_prefix_ids,
    chain_from_token_ids,
    lru_reuse,
    unbounded_reuse,
)


def _req(i, prompt_tokens, ids=(), token_ids=None):
    return RequestSpec(
        request_id=str(i),
        arrival_s=float(i),
        prompt_tokens=prompt_tokens,
        output_tokens=1,
        prefix_block_ids=tuple(ids),
        prompt_token_ids=token_ids,
    )


def test_hash_ids_chained_by_hand():
    requests = [
        _req(0, 1024, [1, 2]),  # nothing cached yet
        _req(1, 1000, [1, 3]),  # block 1 hits: 512
        _req(2, 600, [4, 2]),  # id 2 was seen, but after block 1, not after 4: no hit
        _req(3, 1100, [1, 2, 5]),  # 1 and 2 hit: 1024
        _req(4, 700, [1, 2]),  # both hit; the second block is partial: 512 + 188
    ]
    count = unbounded_reuse(chain_from_prefix_ids(requests, 512), 512)
    assert count.prompt_tokens == 1024 + 1000 + 600 + 1100 + 700
    assert count.hit_tokens == 512 + 1024 + 700
    # Distinct chained blocks: (1) (1,2) (1,3) (4) (4,2) (1,2,5).
    assert count.num_unique_blocks == 6


def test_token_ids_hash_only_full_blocks_by_hand():
    requests = [
        _req(0, 5, token_ids=(1, 2, 3, 4, 5)),  # blocks [1,2] [3,4]; the tail 5 is never cached
        _req(1, 5, token_ids=(1, 2, 3, 4, 9)),  # both full blocks hit: 4 tokens
        _req(2, 4, token_ids=(9, 9, 3, 4)),  # [3,4] after [9,9] is another block: no hit
    ]
    count = unbounded_reuse(chain_from_token_ids(requests, 2), 2)
    assert (count.hit_tokens, count.prompt_tokens) == (4, 14)


def test_lru_evicts_a_finished_request_tail_first():
    # Blocks of 16 tokens; A=[a,b], B=[c,d], C=[a,b] (ids chain per request).
    requests = [_req(0, 32, [10, 11]), _req(1, 32, [20, 21]), _req(2, 32, [10, 11])]
    prompts = chain_from_prefix_ids(requests, 16)
    # Capacity 3: after A the order (oldest first) is b, a; B adds d, c and evicts b. C finds a, misses b.
    assert lru_reuse(prompts, 3, 16).hit_tokens == 16
    # Capacity 4: nothing evicted, C hits both blocks, as an unbounded cache does.
    assert lru_reuse(prompts, 4, 16).hit_tokens == 32 == unbounded_reuse(prompts, 16).hit_tokens


def test_cache_blocks_are_vllm_blocks_even_for_512_token_trace_blocks():
    requests = (_req(0, 1024, [1, 2]), _req(1, 1024, [3, 4]), _req(2, 1024, [1, 2]))
    w = Workload(name="w", requests=requests, hash_block_size=512)
    # 64 blocks of 16 tokens = 1024 tokens = two 512-token blocks: request 2 evicts request 0 entirely.
    assert analyze(w, cache_blocks=64).prefix_reuse.lru_token_fraction == 0.0
    # 128 blocks = four trace blocks: everything fits.
    assert analyze(w, cache_blocks=128).prefix_reuse.lru_token_fraction == pytest.approx(1024 / 3072)
    assert analyze(w).prefix_reuse.unbounded_token_fraction == pytest.approx(1024 / 3072)


def test_mooncake_slice_against_a_direct_prefix_count(data_dir):
    """Independent method: a block hits if the whole id prefix up to it was seen before."""
    rows = [json.loads(line) for line in (data_dir / "mooncake_slice.jsonl").read_text().splitlines()]
    rows.sort(key=lambda r: r["timestamp"])
    seen, hit, total = set(), 0, 0
    for r in rows:
        ids, n = r["hash_ids"], r["input_length"]
        total += n
        for k in range(len(ids)):
            prefix = tuple(ids[: k + 1])
            if prefix not in seen:
                break
            hit += min(512, n - 512 * k)
        seen.update(tuple(ids[: k + 1]) for k in range(len(ids)))
    s = analyze(read_workload(data_dir / "mooncake_slice.jsonl"))
    assert s.prefix_reuse.basis == "hash_ids"
    assert s.prefix_reuse.unbounded_token_fraction == pytest.approx(hit / total)
    assert s.prefix_reuse.unbounded_token_fraction > 0.5


def test_mt_bench_log_reuse_against_a_direct_prefix_count(data_dir, tokenizer_path):
    w = read_workload(data_dir / "mt_bench_chat_log.jsonl", tokenizer_path=str(tokenizer_path))
    seen, hit, total = set(), 0, 0
    for r in w.requests:
        ids = r.prompt_token_ids
        total += len(ids)
        full = len(ids) // 16
        k = 0
        while k < full and tuple(ids[: (k + 1) * 16]) in seen:
            k += 1
        hit += 16 * k
        seen.update(tuple(ids[: (j + 1) * 16]) for j in range(full))
    s = analyze(w, block_size=16)
    assert s.prefix_reuse.basis == "token_ids"
    assert s.prefix_reuse.unbounded_token_fraction == pytest.approx(hit / total)
    # Second turns re-send the first turn and its answer, and every prompt shares the system prompt.
    assert hit > 0


def test_sharegpt_first_turns_share_little(data_dir, tokenizer_path):
    s = analyze(read_workload(data_dir / "sharegpt_slice.json", tokenizer_path=str(tokenizer_path)))
    assert s.prefix_reuse.basis == "token_ids"
    assert s.prefix_reuse.unbounded_token_fraction < 0.05


chains = st.lists(
    st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=6), min_size=1, max_size=30
)


@settings(max_examples=150, deadline=None)
@given(chains, st.integers(min_value=1, max_value=40))
def test_lru_never_beats_unbounded_and_grows_with_capacity(id_lists, capacity):
    requests = [_req(i, 16 * len(ids), ids) for i, ids in enumerate(id_lists)]
    prompts = chain_from_prefix_ids(requests, 16)
    unbounded = unbounded_reuse(prompts, 16).hit_tokens
    small = lru_reuse(prompts, capacity, 16).hit_tokens
    larger = lru_reuse(prompts, capacity + 1, 16).hit_tokens
    assert small <= larger <= unbounded
    assert lru_reuse(prompts, 10_000, 16).hit_tokens == unbounded
