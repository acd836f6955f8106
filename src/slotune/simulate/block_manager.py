"""KV-block accounting only: allocation, reference counts, the hash-chained prefix cache and its LRU eviction.

Mirrors vLLM V1's KVCacheManager + BlockPool (vllm/v1/core/kv_cache_manager.py, block_pool.py,
kv_cache_utils.py, single_type_kv_cache_manager.py):
- a pool of `num_gpu_blocks` blocks, one of which is vLLM's reserved null block, shared by every KV-cache group
  (`GroupLayout`): a request takes one block per token block in each full-attention group, and in each
  sliding-window group one per token block that is still inside the window (SlidingWindowManager
  `remove_skipped_blocks` frees those that fall out of it before each allocation);
- one free queue in eviction order: allocation pops from the head, freed blocks are appended at the tail,
  a request's blocks are freed in reverse so that its tail blocks are evicted first;
- a full block is published under a hash chained over all tokens up to its end; a cache hit covers whole
  blocks and never the last prompt token (vLLM recomputes at least one token to get logits);
- a cached block in the free queue counts as free; allocating it evicts it from the cache (LRU);
  a hit on it takes it out of the free queue (touch).

Representation (for speed, with identical observable behaviour): the blocks of the first full-attention group
carry the prefix cache. Those whose content other requests can share (the prompt's shareable prefix) are
individual `SharedBlock`s; the rest of a request's blocks in that group (unique prompt tail and generated tokens)
are a count. In the free queue, runs of blocks nobody can ever hit again are one anonymous `Segment`; a
preempted request's cached private chain is one `Segment` owned by it, which eviction eats from the chain's tail
end (the order vLLM frees it in) and the request itself can hit on resume. The blocks of the other groups (more
full-attention groups, the sliding-window groups) are counts. Where a hit covers them, vLLM takes cached blocks
in every group; here the first group's blocks come from the cache and the other groups' blocks for the hit
(full groups: every hit block; sliding groups: those inside the window) are charged as new, which is what vLLM
charges when those cached blocks sit in the free queue (`num_evictable_blocks`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from slotune.simulate.request_state import SimRequest

_HASH_ROOT = 0x2545F4914F6CDD1D  # parent "hash" of a request's first block


@dataclass(frozen=True, slots=True)
class GroupLayout:
    """vLLM's KV-cache groups as the pool sees them (kv_cache_utils `_get_kv_cache_config_uniform_page_size`):
    every group takes its blocks from the one pool. A model of one attention type has one group."""

    full_groups: int = 1
    sliding_groups: int = 0
    sliding_window: int = 0  # tokens
    # SlidingWindowSpec.max_admission_blocks_per_request: what admission reserves in each sliding group.
    sliding_cap_blocks: int = 0

    def __post_init__(self) -> None:
        if self.full_groups < 1:
            raise ValueError("the simulator needs a full-attention KV cache group")
        if self.sliding_groups and (self.sliding_window < 1 or self.sliding_cap_blocks < 1):
            raise ValueError("sliding-window groups need a window and an admission cap")


class SharedBlock:
    __slots__ = ("block_hash", "is_cached", "key", "next_dup", "ref_cnt")

    def __init__(self, key: int, block_hash: int) -> None:
        self.key = key
        self.block_hash = block_hash
        self.ref_cnt = 1
        self.is_cached = False
        # vLLM keeps every block registered under one hash (block_pool.cached_block_hash_to_block maps a hash to
        # several blocks); lookups return the first, the next one serves once the first is evicted.
        self.next_dup: SharedBlock | None = None


class Segment:
    """`count` consecutive free blocks; `owner` is the preempted request whose cached chain they hold."""

    __slots__ = ("count", "key", "owner")

    def __init__(self, key: int, count: int, owner: SimRequest | None) -> None:
        self.key = key
        self.count = count
        self.owner = owner


def prefix_hashes(req: SimRequest, block_size: int) -> list[int]:
    """Chained hashes of the request's shareable full blocks.

    With prompt token ids, a block's identity is its tokens (vLLM hashes token ids). With prefix block ids
    (Mooncake-style `hash_ids`, `hash_block_size` tokens each), the tokens up to the end of a block are equal for
    two requests when their ids covering those tokens are equal; a later pass through a cycled workload
    (`req.cycle`) gets fresh content for the same ids, as `bench` sends it. Generated tokens are known where a
    follow-up re-sends them (`req.output_token_ids`): their blocks are hashed on from the prompt's, and cached
    once computed, as vLLM caches generated blocks. Tokens beyond the known content are unique to the request
    (an answer nobody re-sends, or a prompt tail nobody else sends).
    """
    hashes: list[int] = []
    h = _HASH_ROOT
    if req.prompt_token_ids is not None:
        ids = req.prompt_token_ids[: req.prompt_tokens]
        if req.output_token_ids:
            ids += req.output_token_ids[: req.max_output_tokens]
        for j in range(len(ids) // block_size):
            h = hash((h, ids[j * block_size : (j + 1) * block_size]))
            hashes.append(h)
    elif req.prefix_block_ids:
        if req.cycle:
            h = hash((_HASH_ROOT, "cycle", req.cycle))
        ids = req.prefix_block_ids
        per_id = req.hash_block_size
        covered = min(req.prompt_tokens, len(ids) * per_id)
        for j in range(covered // block_size):
            h = hash((h, ids[((j + 1) * block_size - 1) // per_id]))
            hashes.append(h)
    return hashes


class BlockManager:
    def __init__(
        self,
        num_gpu_blocks: int,
        block_size: int,
        *,
        enable_caching: bool,
        max_model_len: int,
        layout: GroupLayout | None = None,
        drop_last_hit_block: bool = False,
    ) -> None:
        if num_gpu_blocks < 2:
            raise ValueError("the KV pool needs at least 2 blocks (one is vLLM's null block)")
        self.block_size = block_size
        self.enable_caching = enable_caching
        self.max_model_len = max_model_len
        layout = layout or GroupLayout()
        self.layout = layout
        # Blocks one token block costs beyond the first group's: more full groups, and the sliding groups
        # (while inside the window).
        self.extra_full = layout.full_groups - 1
        self.sliding_groups = layout.sliding_groups
        self.sliding_window = layout.sliding_window
        self.blocks_per_position = layout.full_groups + layout.sliding_groups
        # EAGLE/MTP need the hidden states of the last hit block: vLLM drops it from every hit
        # (single_type_kv_cache_manager.py FullAttentionManager.find_longest_cache_hit, drop_eagle_block).
        self.drop_last_hit_block = drop_last_hit_block
        self.num_gpu_blocks = num_gpu_blocks
        self.num_usable_blocks = num_gpu_blocks - 1
        self.free_queue: OrderedDict[int, SharedBlock | Segment] = OrderedDict()
        self.cache: dict[int, SharedBlock] = {}
        self._next_key = 0
        self.num_free = 0
        self.num_evicted_blocks = 0
        self._append_anonymous(self.num_usable_blocks)
        self.num_free = self.num_usable_blocks

    # --- state -------------------------------------------------------------------------------------------
    @property
    def num_used(self) -> int:
        return self.num_usable_blocks - self.num_free

    @property
    def usage(self) -> float:
        """vLLM's kv_cache_usage_perc: 1 - free / (num_gpu_blocks - 1)."""
        return 1.0 - self.num_free / self.num_usable_blocks

    def _key(self) -> int:
        self._next_key += 1
        return self._next_key

    def _append_anonymous(self, count: int) -> None:
        q = self.free_queue
        if q:
            last = q[next(reversed(q))]
            if type(last) is Segment and last.owner is None:
                last.count += count
                return
        key = self._key()
        q[key] = Segment(key, count, None)

    # --- prefix cache ------------------------------------------------------------------------------------
    def ensure_hashes(self, req: SimRequest) -> int:
        """The request's number of shareable blocks, hashing its prefix on first use."""
        num = req.num_shareable_blocks
        if num is None:
            req.hashes = prefix_hashes(req, self.block_size) if self.enable_caching else []
            num = req.num_shareable_blocks = len(req.hashes)
        return num

    def lookup(self, req: SimRequest) -> tuple[list[SharedBlock], int]:
        """get_computed_blocks: the longest cached prefix, in full blocks, below the request's last token.
        Returns the shared blocks hit and how many blocks of the request's own cached chain follow them."""
        if not self.enable_caching:
            return [], 0
        num_shareable = self.ensure_hashes(req)
        max_blocks = (req.num_tokens - 1) // self.block_size
        hits: list[SharedBlock] = []
        hashes = req.hashes
        assert hashes is not None
        cache = self.cache
        for j in range(min(num_shareable, max_blocks)):
            block = cache.get(hashes[j])
            if block is None:
                break
            hits.append(block)
        own = req.private_segment
        num_own = 0 if own is None or len(hits) < num_shareable else min(own.count, max_blocks - len(hits))
        if self.drop_last_hit_block:
            if num_own:
                num_own -= 1
            elif hits:
                hits.pop()
        return hits, num_own

    def _register(self, block: SharedBlock) -> None:
        first = self.cache.get(block.block_hash)
        if first is None:
            self.cache[block.block_hash] = block
        else:
            while first.next_dup is not None:
                first = first.next_dup
            first.next_dup = block
        block.is_cached = True

    def _evict(self, block: SharedBlock) -> None:
        first = self.cache[block.block_hash]
        if first is block:
            if block.next_dup is None:
                del self.cache[block.block_hash]
            else:
                self.cache[block.block_hash] = block.next_dup
        else:
            while first.next_dup is not block:
                assert first.next_dup is not None
                first = first.next_dup
            first.next_dup = block.next_dup
        block.next_dup = None
        block.is_cached = False
        self.num_evicted_blocks += 1

    # --- allocation --------------------------------------------------------------------------------------
    def _pop_free(self, count: int) -> None:
        """Take `count` blocks from the head of the free queue, evicting cached ones."""
        q = self.free_queue
        self.num_free -= count
        while count:
            key = next(iter(q))
            entry = q[key]
            if type(entry) is Segment:
                if entry.count > count:
                    entry.count -= count
                    return
                count -= entry.count
                del q[key]
                if entry.owner is not None:
                    entry.owner.private_segment = None
            else:
                del q[key]
                self._evict(entry)  # type: ignore[arg-type]
                count -= 1

    def sliding_skipped(self, num_computed_tokens: int) -> int:
        """Token blocks a sliding-window group no longer needs once `num_computed_tokens` are computed: those
        wholly before the window of the next token (SlidingWindowManager.get_num_skipped_tokens)."""
        skipped_tokens = num_computed_tokens - self.sliding_window + 1
        return skipped_tokens // self.block_size if skipped_tokens > 0 else 0

    def extra_blocks(self, req: SimRequest) -> int:
        """The request's blocks outside the first group."""
        n = req.num_blocks
        return self.extra_full * n + self.sliding_groups * (n - req.sliding_skipped)

    def num_new_blocks(
        self,
        req: SimRequest,
        num_new_tokens: int,
        hits: list[SharedBlock] | None,
        num_own_hits: int,
        lookahead: int,
    ) -> tuple[int, int]:
        """(blocks to allocate, hit blocks that sit in the free queue and so are not free for this request)."""
        num_hits = len(hits) if hits else 0
        bs = self.block_size
        hit_blocks = num_hits + num_own_hits
        computed = req.num_computed + hit_blocks * bs
        total = computed + num_new_tokens + lookahead
        if total > self.max_model_len:
            total = self.max_model_len
        need = -(-total // bs) - req.num_blocks - hit_blocks
        if need < 0:
            need = 0
        evictable = num_own_hits
        if hits:
            evictable += sum(1 for b in hits if b.ref_cnt == 0)
        if self.blocks_per_position != 1:
            need = need * self.blocks_per_position + hit_blocks * self.extra_full
            if hit_blocks and self.sliding_groups:
                need += self.sliding_groups * (hit_blocks - self.sliding_skipped(computed))
        return need, evictable

    def can_allocate(
        self,
        req: SimRequest,
        num_new_tokens: int,
        hits: list[SharedBlock] | None,
        num_own_hits: int,
        lookahead: int,
    ) -> bool:
        need, evictable = self.num_new_blocks(req, num_new_tokens, hits, num_own_hits, lookahead)
        return need <= self.num_free - evictable

    def fits_whole_sequence(self, req: SimRequest, hits: list[SharedBlock], num_own_hits: int) -> bool:
        """vLLM's admission gate (scheduler_reserve_full_isl, on by default in 0.25 and 0.32): a waiting or
        preempted request is admitted only if blocks for its whole sequence, min(num_tokens, max_model_len),
        are free now, its cache hits counted and each sliding group capped at what admission reserves
        (kv_cache_manager.py KVCacheManager.allocate_slots, `full_sequence_must_fit`;
        single_type_kv_cache_manager.py get_num_blocks_to_allocate, `apply_admission_cap`)."""
        bs = self.block_size
        hit_blocks = len(hits) + num_own_hits
        required = -(-min(req.num_tokens, self.max_model_len) // bs)
        need = required - req.num_blocks - hit_blocks
        if need < 0:
            need = 0
        need = need * self.layout.full_groups + hit_blocks * self.extra_full + num_own_hits
        need += sum(1 for b in hits if b.ref_cnt == 0)
        if self.sliding_groups:
            skipped = self.sliding_skipped(req.num_computed + hit_blocks * bs)
            in_window = max(min(required, self.layout.sliding_cap_blocks) - max(skipped, hit_blocks), 0)
            need += self.sliding_groups * (in_window + max(hit_blocks - skipped, 0))
        return need <= self.num_free

    def release_skipped(self, req: SimRequest) -> None:
        """Free the sliding-window blocks that fell out of the window (remove_skipped_blocks, which vLLM runs
        at the start of every allocate_slots, whether the allocation then succeeds or not)."""
        skipped = self.sliding_skipped(req.num_computed)
        if skipped > req.num_blocks:
            skipped = req.num_blocks
        if skipped > req.sliding_skipped:
            freed = (skipped - req.sliding_skipped) * self.sliding_groups
            req.sliding_skipped = skipped
            self._append_anonymous(freed)
            self.num_free += freed

    def allocate_slots(
        self,
        req: SimRequest,
        num_new_tokens: int,
        hits: list[SharedBlock] | None = None,
        num_own_hits: int = 0,
        lookahead: int = 0,
    ) -> bool:
        """Blocks for `num_new_tokens` more tokens (plus hits and lookahead); False, changing nothing but the
        release of blocks out of a sliding window, if the free blocks do not suffice."""
        if self.sliding_groups and req.num_blocks:
            self.release_skipped(req)
        need, evictable = self.num_new_blocks(req, num_new_tokens, hits, num_own_hits, lookahead)
        if need > self.num_free - evictable:
            return False
        q = self.free_queue
        if hits:
            for block in hits:
                if block.ref_cnt == 0:
                    del q[block.key]
                    self.num_free -= 1
                block.ref_cnt += 1
            req.shared_blocks.extend(hits)
            req.num_registered = len(req.shared_blocks)
        own = req.private_segment
        if own is not None:
            # Resumed after preemption: reuse the head of its cached chain; whatever it does not reuse can
            # never be hit again (the chain beyond is recomputed into new blocks).
            if num_own_hits == own.count:
                del q[own.key]
            else:
                own.count -= num_own_hits
                own.owner = None
            self.num_free -= num_own_hits
            req.num_private_blocks += num_own_hits
            req.private_segment = None
        bs = self.block_size
        if self.sliding_groups and (hits or num_own_hits):
            # The hit's blocks before the window are vLLM's null blocks in the sliding groups.
            req.sliding_skipped = self.sliding_skipped(req.num_computed + req.num_blocks * bs)
        if need:
            self._pop_free(need)
            start = req.num_blocks
            new_positions = need
            if self.blocks_per_position != 1:
                computed = req.num_computed + ((len(hits) if hits else 0) + num_own_hits) * bs
                total = min(computed + num_new_tokens + lookahead, self.max_model_len)
                new_positions = -(-total // bs) - start
            shareable = self.ensure_hashes(req)
            if req.num_private_blocks == 0 and start < shareable:
                hashes = req.hashes
                assert hashes is not None
                num_shared = min(new_positions, shareable - start)
                for j in range(start, start + num_shared):
                    req.shared_blocks.append(SharedBlock(self._key(), hashes[j]))
                req.num_private_blocks += new_positions - num_shared
            else:
                req.num_private_blocks += new_positions
        if self.enable_caching and req.num_registered < len(req.shared_blocks):
            # cache_blocks: publish the shared blocks that are full once this step's tokens are computed.
            computed = req.num_computed + ((len(hits) if hits else 0) + num_own_hits) * bs
            num_full = min(computed + num_new_tokens, req.num_tokens) // bs
            num_full = min(num_full, len(req.shared_blocks))
            while req.num_registered < num_full:
                self._register(req.shared_blocks[req.num_registered])
                req.num_registered += 1
        return True

    def allocate_private(self, reqs: list[SimRequest], num_blocks: list[int], total: int) -> None:
        """Bulk allocation for a run of decode steps: `num_blocks[i]` more private token blocks for `reqs[i]`
        (`total` of them), in every group."""
        if total:
            self._pop_free(total * self.blocks_per_position)
            for req, n in zip(reqs, num_blocks, strict=True):
                req.num_private_blocks += n

    def free(self, req: SimRequest, *, preempted: bool) -> None:
        """Return a request's blocks to the free queue, tail first. A preempted request keeps its full private
        blocks cached (it may hit them when it resumes); a finished request's private blocks can never be hit."""
        q = self.free_queue
        num_private = req.num_private_blocks
        if num_private:
            num_chain = 0
            if preempted and self.enable_caching:
                num_chain = min(req.num_computed, req.num_tokens) // self.block_size - len(req.shared_blocks)
                num_chain = max(0, min(num_chain, num_private))
            if num_private > num_chain:
                self._append_anonymous(num_private - num_chain)
            if num_chain:
                key = self._key()
                segment = Segment(key, num_chain, req)
                q[key] = segment
                req.private_segment = segment
            self.num_free += num_private
        for block in reversed(req.shared_blocks):
            block.ref_cnt -= 1
            if block.ref_cnt == 0:
                if block.is_cached:
                    q[block.key] = block
                else:
                    self._append_anonymous(1)
                self.num_free += 1
        if self.blocks_per_position != 1:
            # The other groups' blocks follow the first group's into the free queue (the coordinator frees
            # group by group); nobody can hit them here.
            extra = self.extra_blocks(req)
            if extra:
                self._append_anonymous(extra)
                self.num_free += extra
            req.sliding_skipped = 0
        req.shared_blocks = []
        req.num_private_blocks = 0
        req.num_registered = 0
