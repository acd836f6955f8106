from __future__ import annotations

import pytest
from sim_helpers import sim_request

from slotune.simulate.block_manager import BlockManager, GroupLayout, Segment, SharedBlock, prefix_hashes
from slotune.simulate.request_state import PREEMPTED, SimRequest

BS = 16


req = sim_request


def admit(bm: BlockManager, r: SimRequest) -> int:
    """What the scheduler does for a waiting request: look up, allocate the rest of the prompt."""
    hits, own = bm.lookup(r)
    hit_tokens = (len(hits) + own) * BS
    assert bm.allocate_slots(r, r.num_tokens - hit_tokens, hits, own)
    r.num_computed = r.num_tokens
    return hit_tokens


def test_pool_counts_and_usage() -> None:
    bm = BlockManager(101, BS, enable_caching=True, max_model_len=4096)
    assert bm.num_free == 100  # block 0 is vLLM's null block
    r = req(0, 100)
    admit(bm, r)
    assert r.num_blocks == 7  # cdiv(100, 16)
    assert bm.num_free == 93 and bm.usage == pytest.approx(0.07)
    bm.free(r, preempted=False)
    assert bm.num_free == 100 and bm.usage == 0.0


def test_allocation_fails_without_side_effects() -> None:
    bm = BlockManager(11, BS, enable_caching=True, max_model_len=4096)
    r = req(0, 200)  # needs 13 blocks, only 10 usable
    assert not bm.allocate_slots(r, 200)
    assert bm.num_free == 10 and r.num_blocks == 0


def test_prefix_hit_never_covers_the_last_prompt_token() -> None:
    bm = BlockManager(1000, BS, enable_caching=True, max_model_len=4096)
    ids = tuple(range(4))  # 64 tokens of shared prefix content
    a = req(0, 64, ids=ids)
    assert admit(bm, a) == 0
    b = req(1, 64, ids=ids)
    # 4 full blocks are cached, but the hit stops at 3 blocks so the last token is recomputed.
    assert admit(bm, b) == 48
    c = req(2, 65, ids=ids)  # one more token: all 4 full blocks hit
    assert admit(bm, c) == 64
    assert [blk.ref_cnt for blk in a.shared_blocks] == [3, 3, 3, 2]


def test_hash_chain_needs_the_whole_prefix_equal() -> None:
    a = req(0, 64, ids=(1, 2, 3, 4))
    b = req(1, 64, ids=(9, 2, 3, 4))  # same later ids, different first block
    assert prefix_hashes(a, BS)[1:] != prefix_hashes(b, BS)[1:]
    c = req(2, 64, ids=(1, 2, 7, 7))
    assert prefix_hashes(a, BS)[:2] == prefix_hashes(c, BS)[:2]
    assert prefix_hashes(a, BS)[2] != prefix_hashes(c, BS)[2]


def test_prefix_ids_coarser_than_blocks() -> None:
    # Mooncake-style ids cover 512 tokens each: 32 vLLM blocks per id; a 600-token prompt shares 37 full blocks
    # of id-covered content (600 // 16) when its two ids match.
    a = SimRequest(
        index=0,
        request_id="a",
        arrival_s=0,
        prompt_tokens=600,
        max_output_tokens=1,
        prefix_block_ids=(5, 6),
        hash_block_size=512,
    )
    b = SimRequest(
        index=1,
        request_id="b",
        arrival_s=0,
        prompt_tokens=1000,
        max_output_tokens=1,
        prefix_block_ids=(5, 6),
        hash_block_size=512,
    )
    ha, hb = prefix_hashes(a, BS), prefix_hashes(b, BS)
    assert len(ha) == 37 and len(hb) == 62  # b covers min(1000, 2 x 512) // 16
    assert ha == hb[:37]


def test_token_ids_hash_real_content() -> None:
    toks = tuple(range(100))
    a = req(0, 100, tokens=toks)
    b = req(1, 100, tokens=(*toks[:40], 999, *toks[41:]))  # differs in block 2
    ha, hb = prefix_hashes(a, BS), prefix_hashes(b, BS)
    assert len(ha) == 6 and ha[:2] == hb[:2] and ha[2] != hb[2]


def test_lru_eviction_takes_tail_blocks_first() -> None:
    # 8 usable blocks. Request a caches 4 full prefix blocks then finishes: they sit in the free queue, tail first.
    bm = BlockManager(9, BS, enable_caching=True, max_model_len=4096)
    ids = (1, 2, 3, 4)
    a = req(0, 65, ids=ids)  # 4 full shared blocks + 1 partial private block
    admit(bm, a)
    bm.free(a, preempted=False)
    assert bm.num_free == 8 and len(bm.cache) == 4
    # Queue order: the never-used anonymous blocks (3), a's partial block, then a's blocks 3, 2, 1, 0.
    order = [(type(e).__name__, getattr(e, "count", None)) for e in bm.free_queue.values()]
    assert order == [
        ("Segment", 4),
        ("SharedBlock", None),
        ("SharedBlock", None),
        ("SharedBlock", None),
        ("SharedBlock", None),
    ]
    # Taking 5 blocks evicts only the tail block (block 3) of a's chain.
    other = req(1, 80)
    assert bm.allocate_slots(other, 80)
    assert len(bm.cache) == 3 and bm.num_evicted_blocks == 1
    bm.free(other, preempted=False)
    # A new request with the same prefix hits the 3 surviving head blocks (touching them out of the free queue)
    # and takes its 2 new blocks from the anonymous ones behind them, evicting nothing.
    c = req(2, 65, ids=ids)
    hits, own = bm.lookup(c)
    assert len(hits) == 3 and own == 0
    assert bm.allocate_slots(c, 65 - 48, hits, own)
    assert bm.num_free == 3 and bm.num_evicted_blocks == 1 and len(bm.cache) == 4  # c published block 3 again


def test_hit_blocks_in_the_free_queue_are_not_free_for_the_hitter() -> None:
    bm = BlockManager(6, BS, enable_caching=True, max_model_len=4096)  # 5 usable
    ids = (1, 2, 3)
    a = req(0, 49, ids=ids)  # 3 shared + 1 private
    admit(bm, a)
    bm.free(a, preempted=False)
    b = req(1, 49 + 32, ids=ids)  # hits 3 blocks, needs 3 more: 6 > 5 usable
    hits, own = bm.lookup(b)
    assert len(hits) == 3
    assert not bm.can_allocate(b, 49 + 32 - 48, hits, own, 0)


def test_duplicate_blocks_serve_after_the_first_is_evicted() -> None:
    bm = BlockManager(100, BS, enable_caching=True, max_model_len=4096)
    ids = (7, 8)
    a, b = req(0, 40, ids=ids), req(1, 40, ids=ids)
    # Both computed before either was cached (same step, chunked): vLLM registers both copies.
    assert bm.allocate_slots(a, 40) and bm.allocate_slots(b, 40)
    first = bm.cache[a.shared_blocks[0].block_hash]
    assert first is a.shared_blocks[0] and first.next_dup is b.shared_blocks[0]
    bm._evict(first)
    assert bm.cache[a.shared_blocks[0].block_hash] is b.shared_blocks[0]


def test_preempted_request_reuses_its_own_cached_chain() -> None:
    bm = BlockManager(200, BS, enable_caching=True, max_model_len=4096)
    r = req(0, 100)  # no shareable prefix: all private
    admit(bm, r)
    r.num_output, r.num_tokens = 30, 130
    r.num_computed = 129
    assert bm.allocate_slots(r, 1)  # blocks for 130 tokens
    bm.free(r, preempted=True)
    r.status, r.num_computed = PREEMPTED, 0
    seg = r.private_segment
    assert isinstance(seg, Segment) and seg.count == 129 // BS  # the full blocks stay cached for it
    hits, own = bm.lookup(r)
    assert hits == [] and own == 8  # (130 - 1) // 16
    assert admit(bm, r) == 128
    assert r.private_segment is None and r.num_blocks == 9


def test_eviction_eats_a_preempted_chain_from_its_tail() -> None:
    bm = BlockManager(21, BS, enable_caching=True, max_model_len=4096)  # 20 usable
    r = req(0, 160)  # 10 private blocks
    admit(bm, r)
    bm.free(r, preempted=True)
    r.status, r.num_computed = PREEMPTED, 0
    other = req(1, 16 * 14)  # takes the 10 never-used blocks and 4 of r's chain
    assert bm.allocate_slots(other, 16 * 14)
    assert r.private_segment is not None and r.private_segment.count == 6
    _hits, own = bm.lookup(r)
    assert own == 6  # the chain's head survives: blocks 0..5


def test_finished_private_blocks_become_anonymous() -> None:
    bm = BlockManager(50, BS, enable_caching=True, max_model_len=4096)
    r = req(0, 100)
    admit(bm, r)
    bm.free(r, preempted=False)
    assert len(bm.free_queue) == 1  # everything merged into one anonymous run
    seg = next(iter(bm.free_queue.values()))
    assert isinstance(seg, Segment) and seg.owner is None and seg.count == 49


def test_caching_disabled_never_hits() -> None:
    bm = BlockManager(100, BS, enable_caching=False, max_model_len=4096)
    ids = (1, 2, 3)
    a, b = req(0, 60, ids=ids), req(1, 60, ids=ids)
    assert admit(bm, a) == 0
    assert admit(bm, b) == 0
    assert not bm.cache and all(not isinstance(e, SharedBlock) for e in bm.free_queue.values())


def test_max_model_len_caps_slots() -> None:
    bm = BlockManager(100, BS, enable_caching=True, max_model_len=100)
    r = req(0, 90)
    assert bm.allocate_slots(r, 90, lookahead=20)
    assert r.num_blocks == 7  # cdiv(min(110, 100), 16)


def hybrid(blocks: int = 2001, *, window: int = 128, sliding: int = 2, cap: int = 100) -> BlockManager:
    layout = GroupLayout(full_groups=1, sliding_groups=sliding, sliding_window=window, sliding_cap_blocks=cap)
    return BlockManager(blocks, BS, enable_caching=True, max_model_len=8192, layout=layout)


def test_every_kv_cache_group_takes_blocks_from_the_one_pool() -> None:
    # vLLM kv_cache_utils._get_kv_cache_config_uniform_page_size: the groups share one pool of num_blocks; a
    # request takes cdiv(tokens, block_size) blocks in each group (sliding groups: until tokens leave the window).
    bm = hybrid()
    r = req(0, 100)
    admit(bm, r)
    assert r.num_blocks == 7 and bm.num_used == 3 * 7  # 1 full + 2 sliding groups
    bm.free(r, preempted=False)
    assert bm.num_used == 0


def test_sliding_window_blocks_are_released_as_the_window_moves() -> None:
    # single_type_kv_cache_manager.py SlidingWindowManager.get_num_skipped_tokens: with 800 tokens computed and a
    # 128-token window, tokens before 800 - 128 + 1 = 673 are skipped: 42 whole blocks; remove_skipped_blocks
    # frees them (in every sliding group) at the next allocate_slots, whether that allocation succeeds or not.
    bm = hybrid()
    r = req(0, 800)
    admit(bm, r)
    assert bm.num_used == 3 * 50
    assert bm.allocate_slots(r, 1)  # the first decode step: token 801 opens block 51 in every group
    assert r.sliding_skipped == 42 and bm.num_used == 51 + 2 * (51 - 42)
    assert bm.extra_blocks(r) == 2 * 9


def test_admission_caps_sliding_groups_and_charges_the_window_of_a_hit() -> None:
    # Admission (full_sequence_must_fit) reserves min(cdiv(tokens, bs), max_admission_blocks_per_request) blocks
    # in each sliding group: a 4,000-token prompt needs 250 full + 2 x 100 capped sliding blocks.
    bm = hybrid(blocks=451)  # 450 usable
    assert bm.fits_whole_sequence(req(0, 4000), [], 0)
    assert not hybrid(blocks=450).fits_whole_sequence(req(0, 4000), [], 0)
    # A hit of 20 blocks (320 tokens) at window 128: the sliding groups hold the blocks from token 193 on,
    # 20 - 12 = 8 of the hit's blocks each, charged like new ones (vLLM: hit blocks in the free queue count).
    bm = hybrid()
    ids = tuple(range(25))
    first = req(0, 400, ids=ids)
    admit(bm, first)
    bm.free(first, preempted=False)
    follower = req(1, 330, ids=ids)
    hits, own = bm.lookup(follower)
    assert len(hits) == 20 and own == 0
    need, evictable = bm.num_new_blocks(follower, 10, hits, 0, 0)
    assert evictable == 20  # the first group's hit blocks sit in the free queue
    assert need == 1 * 3 + 2 * (
        20 - 12
    )  # one new position in 3 groups + the sliding groups' window of the hit


def test_eagle_drops_the_last_block_of_a_hit() -> None:
    bm = BlockManager(1000, BS, enable_caching=True, max_model_len=4096, drop_last_hit_block=True)
    ids = tuple(range(4))
    admit(bm, req(0, 64, ids=ids))
    assert admit(bm, req(1, 65, ids=ids)) == 48  # 4 full blocks cached; EAGLE recomputes the last one
