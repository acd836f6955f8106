"""Scheduling policy only: vLLM V1's `Scheduler.schedule()` (vllm/v1/core/sched/scheduler.py), FCFS.

There is no prefill or decode phase: each request has `num_computed` tokens and wants to catch up with its
`num_tokens` (+ draft tokens with speculative decoding). One step, under a budget of `max_num_batched_tokens`:
1. RUNNING requests in order: min(tokens wanted, budget, max_model_len - 1 - computed) tokens each. When the
   KV blocks for them cannot be allocated, preempt the last running request (recompute: it loses its blocks
   and goes to the front of the waiting queue) and retry; if the request itself was the last, stop.
2. Only if nothing was preempted: WAITING requests FCFS while fewer than `max_num_seqs` run and budget is left:
   look up the prefix cache, schedule the rest of the prompt (chunked: up to the budget; not chunked: the whole
   prompt or stop), stop at the first request whose blocks cannot be allocated.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from slotune.simulate.block_manager import BlockManager
from slotune.simulate.request_state import PREEMPTED, RUNNING, WAITING, SimRequest


@dataclass(frozen=True, slots=True)
class SchedulerLimits:
    max_num_seqs: int
    max_num_batched_tokens: int
    max_model_len: int
    enable_chunked_prefill: bool
    # Draft tokens a running request verifies per step (0 without speculative decoding), and the KV slots
    # reserved ahead for them (EAGLE and draft-model proposers write KV for their drafts).
    num_spec_tokens: int = 0
    num_lookahead_tokens: int = 0


@dataclass(slots=True)
class ScheduledBatch:
    reqs: list[SimRequest] = field(default_factory=list)
    num_new_tokens: list[int] = field(default_factory=list)
    # num_computed of each scheduled request before this step (its context offset).
    offsets: list[int] = field(default_factory=list)
    preempted: list[SimRequest] = field(default_factory=list)
    prefix_query_tokens: int = 0
    prefix_hit_tokens: int = 0


class Scheduler:
    def __init__(self, limits: SchedulerLimits, block_manager: BlockManager) -> None:
        self.limits = limits
        self.block_manager = block_manager
        self.running: list[SimRequest] = []
        self.waiting: deque[SimRequest] = deque()

    def _preempt(self, victim: SimRequest, batch: ScheduledBatch) -> None:
        self.block_manager.free(victim, preempted=True)
        victim.status = PREEMPTED
        victim.num_computed = 0
        victim.num_spec_tokens = 0
        victim.num_preemptions += 1
        self.waiting.appendleft(victim)
        batch.preempted.append(victim)

    def schedule(self) -> ScheduledBatch:
        limits = self.limits
        bm = self.block_manager
        batch = ScheduledBatch()
        budget = limits.max_num_batched_tokens
        running = self.running
        lookahead = limits.num_lookahead_tokens
        bs = bm.block_size
        i = 0
        while i < len(running) and budget > 0:
            req = running[i]
            num_new = req.num_tokens + req.num_spec_tokens - req.num_computed
            if num_new > budget:
                num_new = budget
            room = limits.max_model_len - 1 - req.num_computed
            if num_new > room:
                num_new = room
            if num_new <= 0:
                i += 1
                continue
            # Shortcut for the common decode case: allocate_slots would be a no-op when the request's blocks already
            # hold these tokens and none of its shared blocks is left to publish.
            holds = (len(req.shared_blocks) + req.num_private_blocks) * bs
            if req.num_computed + num_new + lookahead > holds or req.num_registered < len(req.shared_blocks):
                scheduled = True
                while not bm.allocate_slots(req, num_new, lookahead=lookahead):
                    victim = running.pop()
                    self._preempt(victim, batch)
                    if victim is req:
                        scheduled = False
                        break
                if not scheduled:
                    break
            batch.reqs.append(req)
            batch.num_new_tokens.append(num_new)
            batch.offsets.append(req.num_computed)
            budget -= num_new
            i += 1

        if not batch.preempted:
            waiting = self.waiting
            while waiting and budget > 0 and len(running) < limits.max_num_seqs:
                req = waiting[0]
                hits, num_own_hits = bm.lookup(req)
                hit_tokens = (len(hits) + num_own_hits) * bm.block_size
                num_new = req.num_tokens - hit_tokens
                if not limits.enable_chunked_prefill and num_new > budget:
                    break
                if num_new > budget:
                    num_new = budget
                if not bm.allocate_slots(req, num_new, hits, num_own_hits):
                    break
                waiting.popleft()
                running.append(req)
                req.num_computed = hit_tokens
                if req.cached_prompt_tokens is None:
                    req.cached_prompt_tokens = hit_tokens
                if req.status is WAITING and bm.enable_caching:
                    # vLLM's prefix-cache counters leave out lookups of resumed (preempted) requests.
                    batch.prefix_query_tokens += req.num_tokens
                    batch.prefix_hit_tokens += hit_tokens
                req.status = RUNNING
                batch.reqs.append(req)
                batch.num_new_tokens.append(num_new)
                batch.offsets.append(hit_tokens)
                budget -= num_new

        for req, n in zip(batch.reqs, batch.num_new_tokens, strict=True):
            req.num_computed += n
        return batch

    def head_is_blocked(self) -> bool:
        """Whether the waiting queue's head cannot be admitted in a step that schedules every running request
        with one token each, for a reason that lasts as long as nothing finishes (no seat, no budget, or no KV
        blocks: free blocks only shrink and cache hits only get evicted while requests just decode)."""
        limits = self.limits
        budget = limits.max_num_batched_tokens - len(self.running)
        if budget <= 0 or len(self.running) >= limits.max_num_seqs:
            return True
        req = self.waiting[0]
        bm = self.block_manager
        hits, num_own_hits = bm.lookup(req)
        num_new = req.num_tokens - (len(hits) + num_own_hits) * bm.block_size
        if not limits.enable_chunked_prefill and num_new > budget:
            return True
        return not bm.can_allocate(req, min(num_new, budget), hits, num_own_hits, 0)
