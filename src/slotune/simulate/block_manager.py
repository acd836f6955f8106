"""KV-block accounting only: allocation, reference counts, the hash-chained prefix cache and its LRU eviction.

Mirrors vLLM V1's KVCacheManager + BlockPool (vllm/v1/core/kv_cache_manager.py, block_pool.py,
kv_cache_utils.py) for one full-attention KV cache group:
- a pool of `num_gpu_blocks` blocks, one of which is vLLM's reserved null block;
- one free queue in eviction order: allocation pops from the head, freed blocks are appended at the tail,
  a request's blocks are freed in reverse so that its tail blocks are evicted first;
- a full block is published under a hash chained over all tokens up to its end; a cache hit covers whole
  blocks and never the last prompt token (vLLM recomputes at least one token to get logits);
- a cached block in the free queue counts as free; allocating it evicts it from the cache (LRU);
  a hit on it takes it out of the free queue (touch).

Representation (for speed, with identical observable behaviour): blocks whose content other requests can
share (the prompt's shareable prefix) are individual `SharedBlock`s; the rest of a request's blocks (unique
prompt tail and generated tokens) are a count. In the free queue, runs of blocks nobody can ever hit again are
one anonymous `Segment`; a preempted request's cached private chain is one `Segment` owned by it, which
eviction eats from the chain's tail end (the order vLLM frees it in) and the request itself can hit on resume.
"""

from __future__ import annotations

from collections import OrderedDict

from slotune.simulate.request_state import SimRequest

_HASH_ROOT = 0x2545F4914F6CDD1D  # parent "hash" of a request's first block


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
    (`req.cycle`) gets fresh content for the same ids, as `bench` sends it. Tokens beyond the known prefix are
    unique to the request (a freshly generated answer, or a prompt tail nobody else sends).
    """
    hashes: list[int] = []
    h = _HASH_ROOT
    if req.prompt_token_ids is not None:
        ids = req.prompt_token_ids
        for j in range(min(len(ids), req.prompt_tokens) // block_size):
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
        self, num_gpu_blocks: int, block_size: int, *, enable_caching: bool, max_model_len: int
    ) -> None:
        if num_gpu_blocks < 2:
            raise ValueError("the KV pool needs at least 2 blocks (one is vLLM's null block)")
        self.block_size = block_size
        self.enable_caching = enable_caching
        self.max_model_len = max_model_len
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
        if own is None or len(hits) < num_shareable:
            return hits, 0
        return hits, min(own.count, max_blocks - len(hits))

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
        computed = req.num_computed + (num_hits + num_own_hits) * bs
        total = computed + num_new_tokens + lookahead
        if total > self.max_model_len:
            total = self.max_model_len
        need = -(-total // bs) - req.num_blocks - num_hits - num_own_hits
        evictable = num_own_hits
        if hits:
            evictable += sum(1 for b in hits if b.ref_cnt == 0)
        return (need if need > 0 else 0), evictable

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

    def allocate_slots(
        self,
        req: SimRequest,
        num_new_tokens: int,
        hits: list[SharedBlock] | None = None,
        num_own_hits: int = 0,
        lookahead: int = 0,
    ) -> bool:
        """Blocks for `num_new_tokens` more tokens (plus hits and lookahead); False, changing nothing, if the
        free blocks do not suffice."""
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
        if need:
            self._pop_free(need)
            start = req.num_blocks
            shareable = self.ensure_hashes(req)
            if req.num_private_blocks == 0 and start < shareable:
                hashes = req.hashes
                assert hashes is not None
                num_shared = min(need, shareable - start)
                for j in range(start, start + num_shared):
                    req.shared_blocks.append(SharedBlock(self._key(), hashes[j]))
                req.num_private_blocks += need - num_shared
            else:
                req.num_private_blocks += need
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
        """Bulk allocation for a run of decode steps: `num_blocks[i]` more private blocks for `reqs[i]`."""
        if total:
            self._pop_free(total)
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
        req.shared_blocks = []
        req.num_private_blocks = 0
        req.num_registered = 0
