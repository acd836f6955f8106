"""The loop that joins scheduler, block manager and cost model: a discrete-event simulation of vLLM's engine core.

Events and their order at equal times (the explicit tie-break, by the structure of the loop rather than by
event priorities): a step's end (its outputs are processed, finished requests free their blocks and, in a
closed loop, their users send their next requests) comes first; then the arrivals at that instant in job order
(the per-run sequence number: position in the schedule, or draw order in a closed loop); then the next step is
scheduled. So a request arriving exactly when a step ends is visible to the next schedule, and finds the blocks
of the requests that finished at that step free. `run` is that order: pull arrivals up to now, make them
visible, schedule one step (or a run of them), apply its end, repeat.

Time: a step starts when the previous one ends (or when a request arrives at an idle engine) and lasts the cost
model's duration; its sampled tokens are streamed at its end. With async scheduling (vLLM's default) the
schedule for step k+1 is made while step k runs, so step k+1 sees only arrivals up to the start of step k, and
CPU time overlaps GPU time (cost_model.py). It is also made before step k's outputs are processed
(`EngineCore.step_with_batch_queue` schedules, then blocks on the oldest batch, then `update_from_output`): a
request that finishes in step k is streamed at the end of step k but keeps its seat and its KV blocks through the
schedule of step k+1 (the scheduler skips it; it can still be preempted), and is freed right after it.

Fast path: while every running request is decoding one token per step, nothing can be admitted and nothing
finishes, consecutive steps differ only in total context (+1 token per request per step), so a whole run of
steps is evaluated at once with numpy: durations from the cost model's array form, times by a sequential
cumulative sum (bit-identical to adding them one by one), KV blocks allocated in bulk (block boundaries are
periodic; sliding-window blocks that fall out of the window are released in bulk too), the timeline written as
slices. A run stops at the first step that finishes a request (in a closed loop that is also what makes the next
arrivals), would need more KV blocks than were free at its start (preemption), or would see an arrival it could
admit. `fast_forward=False` runs every step through the scheduler instead; both give identical results.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np

from slotune.plan.step_cost import causal_pairs, window_keys
from slotune.simulate.block_manager import BlockManager
from slotune.simulate.cost_model import CostModel, window_key_sums
from slotune.simulate.feed import Feed
from slotune.simulate.request_state import FINISHED, SimRequest
from slotune.simulate.scheduler import Scheduler
from slotune.simulate.spec_decode import AcceptanceSampler
from slotune.simulate.timeline import Downsampler, StepLog

_FOLD_EVERY_STEPS = 1 << 18  # timeline rows kept at full resolution before old ones are folded away
_MIN_FAST_RUN_STEPS = 3  # below this a plain step is cheaper than setting up a run


class RequestSink(Protocol):
    def finish(self, req: SimRequest, times: np.ndarray, tokens: tuple[int, ...]) -> None: ...


class Engine:
    def __init__(
        self,
        *,
        scheduler: Scheduler,
        cost_model: CostModel,
        feed: Feed,
        sink: RequestSink,
        async_scheduling: bool,
        acceptance: AcceptanceSampler | None = None,
        fast_forward: bool = True,
        max_timeline_samples: int = 20_000,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.on_progress = on_progress
        self.block_manager: BlockManager = scheduler.block_manager
        self.cost = cost_model
        self.feed = feed
        self.sink = sink
        self.async_scheduling = async_scheduling
        self.acceptance = acceptance
        self.fast_forward = fast_forward and acceptance is None
        self.log = StepLog()
        self.sampler = Downsampler(max_timeline_samples)
        self.inbox: deque[SimRequest] = deque()  # arrived, not yet visible to the scheduler (async lag)
        self.now_s = 0.0
        self.first_arrival_s: float | None = None
        self.first_measured_arrival_s: float | None = None  # the first after the warm-up
        self.num_fast_runs = 0
        self.num_fast_steps = 0
        self._all_decoding = True  # every running request wants exactly one token
        self._num_retiring = 0  # finished requests still holding their seat and blocks (async scheduling)
        self._prev_start_s: float | None = None  # start of the step in flight while the next is scheduled
        self._last_step_s = 0.0
        self._next_fold_size = _FOLD_EVERY_STEPS

    # --- arrivals ----------------------------------------------------------------------------------------
    def _pull_arrivals(self) -> None:
        feed = self.feed
        while True:
            t = feed.peek_time()
            if t is None or t > self.now_s:
                return
            req = feed.pop()
            if self.first_arrival_s is None:
                self.first_arrival_s = req.arrival_s
            if self.first_measured_arrival_s is None and not req.is_warmup:
                self.first_measured_arrival_s = req.arrival_s
            if req.status is FINISHED:  # rejected at the door
                if not req.is_warmup:
                    self.sink.finish(req, np.empty(0), ())
            else:
                self.inbox.append(req)

    def _make_visible(self, cutoff_s: float) -> None:
        inbox, waiting = self.inbox, self.scheduler.waiting
        while inbox and inbox[0].arrival_s <= cutoff_s:
            waiting.append(inbox.popleft())

    # --- the loop ----------------------------------------------------------------------------------------
    def run(self) -> None:
        sched = self.scheduler
        iterations = 0
        while True:
            iterations += 1
            if self.on_progress is not None and iterations % 4096 == 0:
                self.on_progress(self.feed.num_read, self.feed.num_planned)
            self._pull_arrivals()
            if not sched.running and not sched.waiting and not self.inbox:
                t = self.feed.peek_time()
                if t is None:
                    if self.on_progress is not None:
                        self.on_progress(self.feed.num_read, self.feed.num_planned)
                    break
                self.now_s = max(self.now_s, t)
                self._prev_start_s = None
                continue
            if self.async_scheduling and self._prev_start_s is not None:
                self._make_visible(self._prev_start_s)
            else:
                self._make_visible(self.now_s)
            if not sched.running and not sched.waiting:
                # Nothing was scheduled ahead for this step: the engine core picks the request up as it arrives.
                self._make_visible(self.now_s)
            if self.fast_forward and self._all_decoding and sched.running and self._decode_run():
                self._maybe_fold()
                continue
            self._step()
            self._maybe_fold()

    def _maybe_fold(self) -> None:
        log = self.log
        if log.size < self._next_fold_size:
            return
        keep_from = log.num_steps
        for group in (self.scheduler.running, self.scheduler.waiting):
            for req in group:
                if req.token_runs:
                    keep_from = min(keep_from, req.token_runs[0])
        log.fold_before(keep_from, self.sampler)
        # A long request can pin old rows; look again only after another batch of steps.
        self._next_fold_size = log.size + _FOLD_EVERY_STEPS

    # --- one step through the scheduler ------------------------------------------------------------------
    def _step(self) -> None:
        sched = self.scheduler
        bm = self.block_manager
        batch = sched.schedule()
        if self._num_retiring:
            self._release_retiring()
            if not batch.reqs:
                # An empty schedule: the outputs of the step in flight are processed and the next schedule sees
                # them, and every arrival up to now.
                self._prev_start_s = None
                return
        if not batch.reqs:
            raise RuntimeError("the scheduler scheduled nothing although requests are waiting or running")
        prefill_tokens = decode_tokens = prefill_pairs = decode_pairs = kv_tokens = 0
        window_prefill_pairs = window_decode_pairs = window_kv_tokens = 0
        window = self.cost.sliding_window
        # vLLM computes one logit row per scheduled request (partial prefill chunks too) plus one per draft.
        num_logits = len(batch.reqs)
        num_spec_seqs = 0
        for req, n, offset in zip(batch.reqs, batch.num_new_tokens, batch.offsets, strict=True):
            pairs = n * offset + n * (n + 1) // 2
            kv_tokens += offset + n
            is_decode = offset >= req.num_tokens - 1
            if is_decode:
                decode_tokens += n
                decode_pairs += pairs
            else:
                prefill_tokens += n
                prefill_pairs += pairs
            if window:
                window_kv_tokens += window_keys(n, offset, window)
                if is_decode:
                    window_decode_pairs += causal_pairs(n, offset, window)
                else:
                    window_prefill_pairs += causal_pairs(n, offset, window)
            if req.num_computed > req.num_tokens:
                num_logits += req.num_computed - req.num_tokens
                num_spec_seqs += 1
        duration = self.cost.step_s(
            num_seqs=len(batch.reqs),
            prefill_tokens=prefill_tokens,
            decode_tokens=decode_tokens,
            prefill_pairs=prefill_pairs,
            decode_pairs=decode_pairs,
            kv_tokens=kv_tokens,
            num_logits=num_logits,
            num_spec_seqs=num_spec_seqs,
            window_prefill_pairs=window_prefill_pairs,
            window_decode_pairs=window_decode_pairs,
            window_kv_tokens=window_kv_tokens,
        )
        start = self.now_s
        end = start + duration
        step = self.log.append(
            start,
            end,
            len(sched.running),
            len(sched.waiting) + len(self.inbox),
            prefill_tokens,
            decode_tokens,
            bm.num_used,
            len(batch.preempted),
            batch.prefix_hit_tokens,
            batch.prefix_query_tokens,
        )
        finished = False
        acceptance = self.acceptance
        max_model_len = sched.limits.max_model_len
        for req in batch.reqs:
            if req.scheduled_s is None:
                req.scheduled_s = start
            if req.num_computed < req.num_tokens:
                req.num_spec_tokens = 0  # a partial prefill chunk samples nothing
                continue
            generated = 1
            drafts = req.num_computed - req.num_tokens
            if drafts:
                assert acceptance is not None
                accepted = acceptance.num_accepted(req.index, req.num_decode_steps, drafts)
                req.num_decode_steps += 1
                generated += accepted
                req.num_computed -= drafts - accepted
            remaining = req.max_output_tokens - req.num_output
            if generated > remaining:
                generated = remaining
            req.num_output += generated
            req.num_tokens += generated
            req.add_chunk(step, generated)
            if req.first_token_s is None:
                req.first_token_s = end
            if req.num_output >= req.max_output_tokens or req.num_tokens >= max_model_len:
                req.status = FINISHED
                req.finish_s = end
                finished = True
            elif acceptance is not None:
                req.num_spec_tokens = acceptance.num_speculative_tokens
        if finished:
            self._finish_done(end)
        self.now_s = end
        self._prev_start_s = start
        self._last_step_s = duration
        running = sched.running
        if self._num_retiring:
            running = [r for r in running if r.status is not FINISHED]
        self._all_decoding = all(r.num_tokens + r.num_spec_tokens - r.num_computed == 1 for r in running)

    def _finish_done(self, end: float) -> None:
        """Report every running request marked finished, in running order, and free it: at once when scheduling
        is synchronous, after the next schedule with async scheduling."""
        running = self.scheduler.running
        if self.async_scheduling:
            for req in running:
                if req.status is FINISHED:
                    self._report(req)
                    self._num_retiring += 1
            return
        keep = []
        for req in running:
            if req.status is FINISHED:
                self.block_manager.free(req, preempted=False)
                self._report(req)
            else:
                keep.append(req)
        running[:] = keep

    def _release_retiring(self) -> None:
        """Free the finished requests that sat out a schedule (those it preempted are freed already)."""
        running = self.scheduler.running
        keep = []
        for req in running:
            if req.status is FINISHED:
                self.block_manager.free(req, preempted=False)
            else:
                keep.append(req)
        running[:] = keep
        self._num_retiring = 0

    def _report(self, req: SimRequest) -> None:
        if not req.is_warmup:
            self.sink.finish(req, *self._chunks(req))
        req.token_runs = []
        req.hashes = None
        self.feed.request_done(req)

    def _chunks(self, req: SimRequest) -> tuple[np.ndarray, tuple[int, ...]]:
        """The request's streamed chunks: end time of each step that sampled it, and its tokens."""
        runs = req.token_runs
        log = self.log
        if len(runs) == 3:
            times = log.end_times(runs[0], runs[1]).copy()
            tokens = (runs[2],) * (runs[1] - runs[0] + 1) if runs[2] != 1 else (1,) * len(times)
            return times, tokens
        parts = []
        token_list: list[int] = []
        for i in range(0, len(runs), 3):
            first, last, per_step = runs[i], runs[i + 1], runs[i + 2]
            parts.append(log.end_times(first, last))
            token_list += [per_step] * (last - first + 1)
        return np.concatenate(parts), tuple(token_list)

    # --- a run of decode-only steps at once --------------------------------------------------------------
    def _decode_run(self) -> bool:
        """Advance a run of identical decode-only steps; False (nothing done) when a plain step is needed."""
        sched = self.scheduler
        bm = self.block_manager
        limits = sched.limits
        running = sched.running
        if self._num_retiring:
            # Finished requests sit out the run's first schedule, then free their seats and blocks: fine while
            # nothing waits for them (arrivals cut the run as below, counting only the requests that go on).
            if sched.waiting:
                return False
            running = [r for r in running if r.status is not FINISHED]
        n = len(running)
        if n == 0 or n > limits.max_num_batched_tokens:
            return False
        if self.feed.has_known_outputs and any(
            r.num_registered < (r.num_shareable_blocks or 0) for r in running
        ):
            return False  # generated blocks a follow-up re-sends are still to be published one by one
        lookup = (0, 0)
        if sched.waiting:
            if not sched.head_is_blocked():
                return False
            head_lookup = sched.blocked_head_lookup()
            if head_lookup is None:
                return False
            lookup = head_lookup
            blocked = True
        else:
            # Nothing waits: arrivals end the run unless they could not be admitted anyway.
            blocked = n >= limits.max_num_seqs or n >= limits.max_num_batched_tokens
            if not blocked:
                nxt = self.inbox[0].arrival_s if self.inbox else self.feed.peek_time()
                # Cheap guess (steps only get longer): not worth setting up a run the next arrival cuts short.
                if nxt is not None and nxt < self.now_s + _MIN_FAST_RUN_STEPS * self._last_step_s:
                    return False
        steps = min([r.max_output_tokens - r.num_output for r in running])
        if steps < _MIN_FAST_RUN_STEPS:
            return False
        bs = bm.block_size
        computed = [r.num_computed for r in running]
        first_alloc = [r.num_blocks * bs - c for r, c in zip(running, computed, strict=True)]
        if min(first_alloc) < 0 or max(first_alloc) >= bs:
            return False
        # Blocks needed per step are periodic in bs: hist[p] requests need a block at steps s = p (mod bs).
        hist = np.bincount(np.asarray(first_alloc), minlength=bs)
        # Every allocation of the run must fit the blocks free at its start: then none fails, and blocks the run
        # releases (out of a sliding window) go to the free queue's tail, which the run's allocations never reach.
        free = bm.num_free // bm.blocks_per_position
        total_blocks = int(hist.sum()) * (steps // bs) + int(hist[: steps % bs].sum())
        allocs = np.resize(hist, steps)
        cum_alloc = np.cumsum(allocs)
        if total_blocks > free:
            steps = int(np.searchsorted(cum_alloc, free, side="right"))
            if steps < _MIN_FAST_RUN_STEPS:
                return False
            cum_alloc = cum_alloc[:steps]
        context = sum(computed)
        kv_tokens = np.arange(steps, dtype=np.int64) * n + (context + n)
        window = self.cost.sliding_window
        # Each sequence attends to num_computed + 1 keys at the first step, one more per step after.
        window_kv = window_key_sums(np.asarray(computed) + 1, steps, window) if window else 0
        durations = self.cost.decode_run_s(n, kv_tokens, window_kv)
        clock = np.empty(steps + 1)
        clock[0] = self.now_s
        clock[1:] = durations
        np.cumsum(clock, out=clock)
        starts = clock[:-1]
        ends = clock[1:]
        if not blocked:
            nxt = self.inbox[0].arrival_s if self.inbox else self.feed.peek_time()
            if nxt is not None:
                # Step s (s >= 1) is scheduled seeing arrivals up to the start of step s (sync) or s-1 (async).
                visible = starts[:-1] if self.async_scheduling else starts[1:]
                cut = int(np.searchsorted(visible, nxt, side="left")) + 1
                if cut < steps:
                    if cut < _MIN_FAST_RUN_STEPS:
                        return False
                    steps = cut
                    starts, ends = starts[:steps], ends[:steps]
                    cum_alloc = cum_alloc[:steps]
        # The waiting gauge counts every request that has arrived by a step's start and is not running, visible
        # to the scheduler or not (blocked runs: they queue; async: the last steps may see them arrive).
        waiting_gauge: np.ndarray | int = len(sched.waiting) + len(self.inbox)
        arrivals = self.feed.accepted_arrivals_upto(float(starts[-1]))
        if arrivals:
            first_step = np.searchsorted(starts, np.asarray(arrivals), side="left")
            waiting_gauge = waiting_gauge + np.cumsum(np.bincount(first_step, minlength=steps)[:steps])
        if self._num_retiring:
            self._release_retiring()  # after the first step's schedule, before its gauges are read
        used = bm.num_used + cum_alloc * bm.blocks_per_position
        if bm.sliding_groups:
            used -= self._sliding_releases(computed, steps)
        first_step_index = self.log.append_decode_run(
            starts, ends, n, waiting_gauge, used, prefix_hits=lookup[1], prefix_queries=lookup[0]
        )
        # Apply the run to every running request.
        new_blocks = [-(-(c + steps) // bs) - r.num_blocks for r, c in zip(running, computed, strict=True)]
        bm.allocate_private(running, new_blocks, int(cum_alloc[-1]))
        if bm.sliding_groups:
            for req, c in zip(running, computed, strict=True):
                req.num_computed = c + steps - 1  # the last step's schedule released what fell out by then
                bm.release_skipped(req)
                req.num_computed = c
        last_step_index = first_step_index + steps - 1
        finished = False
        for req in running:
            req.num_computed += steps
            req.num_output += steps
            req.num_tokens += steps
            runs = req.token_runs
            if runs and runs[-1] == 1 and runs[-2] == first_step_index - 1:
                runs[-2] = last_step_index
            else:
                runs += (first_step_index, last_step_index, 1)
            if req.num_output >= req.max_output_tokens:
                req.status = FINISHED
                req.finish_s = float(ends[-1])
                finished = True
        end = float(ends[-1])
        if finished:
            self._finish_done(end)
        self.now_s = end
        self._prev_start_s = float(starts[-1])
        self._last_step_s = end - self._prev_start_s
        self.num_fast_runs += 1
        self.num_fast_steps += steps
        return True

    def _sliding_releases(self, computed: list[int], steps: int) -> np.ndarray:
        """Blocks the sliding-window groups have released by each step of a decode run (cumulative): each step's
        schedule frees, per request, the blocks wholly before the window of its next token. A request at
        c tokens releases its backlog at the first step, then one block every block_size steps from the step its
        window start next crosses a block boundary."""
        bm = self.block_manager
        bs = bm.block_size
        running = self.scheduler.running
        c = np.asarray(computed, dtype=np.int64)
        x = c - bm.sliding_window + 1  # tokens before the window of the next token, at the first step
        backlog = sum(
            bm.sliding_skipped(ci) - r.sliding_skipped for ci, r in zip(computed, running, strict=True)
        )
        bound = np.maximum(1, bs - x)  # later steps release only once x + s >= bs
        first = bound + ((-x - bound) % bs)  # the first step from there at which x + s is a multiple of bs
        padded = -(-steps // bs) * bs
        starts = np.bincount(first[first < steps], minlength=padded)
        per_step = np.cumsum(starts.reshape(-1, bs), axis=0).reshape(-1)[:steps]
        per_step[0] += backlog
        return np.cumsum(per_step) * bm.sliding_groups

    # --- results -----------------------------------------------------------------------------------------
    def finalize_timeline(self) -> None:
        self.log.fold_before(self.log.num_steps, self.sampler, final=True)
