"""Scheduling policy only: vLLM V1's `Scheduler.schedule()` (vllm/v1/core/sched/scheduler.py), FCFS.

There is no prefill or decode phase: each request has `num_computed` tokens and wants to catch up with its
`num_tokens` (+ draft tokens with speculative decoding). One step, under a budget of `max_num_batched_tokens`:
1. RUNNING requests in order: min(tokens wanted, budget, max_model_len - 1 - computed) tokens each. When the
   KV blocks for them cannot be allocated, preempt the last running request (recompute: it loses its blocks
   and goes to the front of the waiting queue) and retry; if the request itself was the last, stop. A request
   that finished in the step whose outputs are not processed yet (async scheduling) is skipped but keeps its
   seat and its blocks (and can be the one preempted).
2. Only if nothing was preempted: WAITING requests FCFS while fewer than `max_num_seqs` run and budget is left:
   look up the prefix cache, schedule the rest of the prompt (chunked: up to the budget; not chunked: the whole
   prompt or stop), stop at the first request whose blocks cannot be allocated, or, with
   `scheduler_reserve_full_isl` (vLLM's default), whose whole sequence would not fit the free blocks now.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from slotune.simulate.block_manager import BlockManager
from slotune.simulate.request_state import FINISHED, PREEMPTED, RUNNING, WAITING, SimRequest


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
    # Admit a waiting request only if its whole sequence fits now (vLLM's --scheduler-reserve-full-isl, on by
    # default in 0.25 and 0.32; slotune models the default and keeps the switch for comparisons).
    reserve_full_isl: bool = True
    # vLLM 0.25 counts a prefix-cache lookup each time the waiting queue's head is looked at, admitted or not;
    # 0.32 once, at admission (slotune.vllm_versions).
    count_every_lookup: bool = False


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
        batch.preempted.append(victim)
        if victim.status is FINISHED:
            # Finished in the step still in flight: its last output is on its way and it leaves the queues when
            # that output is processed (Scheduler.update_from_output, stopped_preempted_reqs); its blocks go now.
            self.block_manager.free(victim, preempted=False)
            return
        self.block_manager.free(victim, preempted=True)
        victim.status = PREEMPTED
        victim.num_computed = 0
        victim.num_spec_tokens = 0
        victim.num_preemptions += 1
        self.waiting.appendleft(victim)

    def schedule(self) -> ScheduledBatch:
        batch = ScheduledBatch()
        budget = self._schedule_running(batch)
        if not batch.preempted:
            self._schedule_waiting(batch, budget)
        for req, n in zip(batch.reqs, batch.num_new_tokens, strict=True):
            req.num_computed += n
        return batch

    def _schedule_running(self, batch: ScheduledBatch) -> int:
        """Step 1; returns the token budget left."""
        limits = self.limits
        bm = self.block_manager
        budget = limits.max_num_batched_tokens
        running = self.running
        lookahead = limits.num_lookahead_tokens
        bs = bm.block_size
        has_sliding = bm.sliding_groups > 0
        i = 0
        while i < len(running) and budget > 0:
            req = running[i]
            if req.status is FINISHED:
                i += 1
                continue
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
            # hold these tokens, none of its shared blocks is left to publish and no sliding-window block falls out.
            holds = (len(req.shared_blocks) + req.num_private_blocks) * bs
            if (
                req.num_computed + num_new + lookahead > holds
                or req.num_registered < len(req.shared_blocks)
                or (has_sliding and bm.sliding_skipped(req.num_computed) > req.sliding_skipped)
            ):
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
        return budget

    def _schedule_waiting(self, batch: ScheduledBatch, budget: int) -> None:
        """Step 2, FCFS."""
        limits = self.limits
        bm = self.block_manager
        running, waiting = self.running, self.waiting
        count_at_lookup = limits.count_every_lookup and bm.enable_caching
        while waiting and budget > 0 and len(running) < limits.max_num_seqs:
            req = waiting[0]
            hits, num_own_hits = bm.lookup(req)
            hit_tokens = (len(hits) + num_own_hits) * bm.block_size
            # vLLM's prefix-cache counters leave out lookups of resumed (preempted) requests.
            counted = req.status is WAITING and bm.enable_caching
            if counted and count_at_lookup:
                batch.prefix_query_tokens += req.num_tokens
                batch.prefix_hit_tokens += hit_tokens
            num_new = req.num_tokens - hit_tokens
            if not limits.enable_chunked_prefill and num_new > budget:
                break
            if num_new > budget:
                num_new = budget
            if limits.reserve_full_isl and not bm.fits_whole_sequence(req, hits, num_own_hits):
                break
            if not bm.allocate_slots(req, num_new, hits, num_own_hits, limits.num_lookahead_tokens):
                break
            waiting.popleft()
            running.append(req)
            req.num_computed = hit_tokens
            if req.cached_prompt_tokens is None:
                req.cached_prompt_tokens = hit_tokens
            if counted and not count_at_lookup:
                batch.prefix_query_tokens += req.num_tokens
                batch.prefix_hit_tokens += hit_tokens
            req.status = RUNNING
            batch.reqs.append(req)
            batch.num_new_tokens.append(num_new)
            batch.offsets.append(hit_tokens)
            budget -= num_new

    def _head_has_no_room(self) -> bool:
        limits = self.limits
        return (
            limits.max_num_batched_tokens - len(self.running) <= 0 or len(self.running) >= limits.max_num_seqs
        )

    def head_is_blocked(self) -> bool:
        """Whether the waiting queue's head cannot be admitted in a step that schedules every running request
        with one token each, for a reason that lasts as long as nothing finishes (no seat, no budget, or no KV
        blocks: free blocks only shrink and cache hits only get evicted while requests just decode; not so
        with sliding-window groups, whose blocks fall out of the window as requests decode)."""
        if self._head_has_no_room():
            return True
        bm = self.block_manager
        if bm.sliding_groups:
            return False
        limits = self.limits
        budget = limits.max_num_batched_tokens - len(self.running)
        req = self.waiting[0]
        hits, num_own_hits = bm.lookup(req)
        num_new = req.num_tokens - (len(hits) + num_own_hits) * bm.block_size
        if not limits.enable_chunked_prefill and num_new > budget:
            return True
        if limits.reserve_full_isl and not bm.fits_whole_sequence(req, hits, num_own_hits):
            return True
        return not bm.can_allocate(req, min(num_new, budget), hits, num_own_hits, limits.num_lookahead_tokens)

    def blocked_head_lookup(self) -> tuple[int, int] | None:
        """(queried, hit) tokens the prefix-cache counters gain at each step while the head stays blocked: vLLM
        0.25 counts each lookup of a never-preempted head that has a seat and budget. None when that lookup's
        hit can shrink during a run of decode steps (some of its hit blocks sit in the free queue)."""
        bm = self.block_manager
        req = self.waiting[0]
        if not (self.limits.count_every_lookup and bm.enable_caching) or req.status is not WAITING:
            return 0, 0
        if self._head_has_no_room():
            return 0, 0
        hits, num_own_hits = bm.lookup(req)
        if num_own_hits or any(b.ref_cnt == 0 for b in hits):
            return None
        return req.num_tokens, len(hits) * bm.block_size
