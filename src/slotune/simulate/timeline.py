"""The engine timeline: one row per engine step in growable numpy columns, and its downsampling.

Rows are kept at full resolution while in-flight requests still need their step times (a request's chunk times
are read from the step end times when it finishes); older rows are folded into a bounded downsampler, so a run of
any length keeps O(max_samples) timeline memory. Downsampling: buckets of `k` consecutive steps; counters
(tokens, preemptions, prefix hits and queries) are summed, gauges (running, waiting, KV usage) are averaged
weighted by step duration; whenever the buckets exceed twice the target, neighbours merge pairwise and `k`
doubles. A run with at most `max_samples` steps keeps every step exactly.
"""

from __future__ import annotations

import numpy as np

from slotune.models import StepSample

FOLD_CHUNK_STEPS = 1 << 14

_INT_COLUMNS = (
    "running",
    "waiting",
    "prefill_tokens",
    "decode_tokens",
    "kv_used",
    "preemptions",
    "prefix_hits",
    "prefix_queries",
)


class StepLog:
    """Full-resolution step rows; `base` is the global index of row 0 after older rows were folded away."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        self.base = 0
        self.size = 0
        self._capacity = capacity
        self.start = np.empty(capacity)
        self.end = np.empty(capacity)
        self.ints = np.empty((len(_INT_COLUMNS), capacity), dtype=np.int64)

    @property
    def num_steps(self) -> int:
        """Global index of the next step."""
        return self.base + self.size

    def _grow(self, needed: int) -> None:
        capacity = self._capacity
        while capacity < needed:
            capacity *= 2
        if capacity == self._capacity:
            return
        start = np.empty(capacity)
        end = np.empty(capacity)
        ints = np.empty((len(_INT_COLUMNS), capacity), dtype=np.int64)
        start[: self.size] = self.start[: self.size]
        end[: self.size] = self.end[: self.size]
        ints[:, : self.size] = self.ints[:, : self.size]
        self.start, self.end, self.ints, self._capacity = start, end, ints, capacity

    def append(
        self,
        start: float,
        end: float,
        running: int,
        waiting: int,
        prefill_tokens: int,
        decode_tokens: int,
        kv_used: int,
        preemptions: int,
        prefix_hits: int,
        prefix_queries: int,
    ) -> int:
        i = self.size
        if i == self._capacity:
            self._grow(i + 1)
        self.start[i] = start
        self.end[i] = end
        self.ints[:, i] = (
            running,
            waiting,
            prefill_tokens,
            decode_tokens,
            kv_used,
            preemptions,
            prefix_hits,
            prefix_queries,
        )
        self.size = i + 1
        return self.base + i

    def append_decode_run(
        self,
        starts: np.ndarray,
        ends: np.ndarray,
        running: int,
        waiting: np.ndarray | int,
        kv_used: np.ndarray,
        prefix_hits: int = 0,
        prefix_queries: int = 0,
    ) -> int:
        """Rows of a run of decode-only steps (each with the same prefix-cache lookup counts); returns the global
        index of its first step."""
        m = len(starts)
        i = self.size
        if i + m > self._capacity:
            self._grow(i + m)
        self.start[i : i + m] = starts
        self.end[i : i + m] = ends
        ints = self.ints
        ints[0, i : i + m] = running
        ints[1, i : i + m] = waiting
        ints[2, i : i + m] = 0
        ints[3, i : i + m] = running
        ints[4, i : i + m] = kv_used
        ints[5, i : i + m] = 0
        ints[6, i : i + m] = prefix_hits
        ints[7, i : i + m] = prefix_queries
        self.size = i + m
        return self.base + i

    def end_times(self, first: int, last: int) -> np.ndarray:
        """End times of global steps first..last inclusive."""
        return self.end[first - self.base : last - self.base + 1]

    def fold_before(self, global_index: int, sampler: Downsampler, *, final: bool = False) -> None:
        """Hand rows before `global_index` to the downsampler and drop them. Rows go over in pieces of
        FOLD_CHUNK_STEPS starting at global multiples of it (a final fold ends with one partial piece), so the
        downsampler sees the same pieces however often folding is attempted: results do not depend on it."""
        target = global_index if final else global_index // FOLD_CHUNK_STEPS * FOLD_CHUNK_STEPS
        n = target - self.base
        if n <= 0:
            return
        for first in range(0, n, FOLD_CHUNK_STEPS):
            last = min(first + FOLD_CHUNK_STEPS, n)
            sampler.add(self.start[first:last], self.end[first:last], self.ints[:, first:last])
        keep = self.size - n
        self.start[:keep] = self.start[n : self.size]
        self.end[:keep] = self.end[n : self.size]
        self.ints[:, :keep] = self.ints[:, n : self.size]
        self.base += n
        self.size = keep

    def totals(self) -> dict[str, float]:
        """Sums and duration-weighted means over the rows still held (call after folding nothing away)."""
        return column_totals(self.start[: self.size], self.end[: self.size], self.ints[:, : self.size])


def column_totals(start: np.ndarray, end: np.ndarray, ints: np.ndarray) -> dict[str, float]:
    dur = end - start
    return {
        "busy_s": float(dur.sum()),
        "kv_used_block_s": float((ints[4] * dur).sum()),
        "kv_used_max": float(ints[4].max()) if ints.shape[1] else 0.0,
        "preemptions": float(ints[5].sum()),
        "prefix_hits": float(ints[6].sum()),
        "prefix_queries": float(ints[7].sum()),
        "in_flight_s": float(((ints[0] + ints[1]) * dur).sum()),
        "running_s": float((ints[0] * dur).sum()),
        "waiting_s": float((ints[1] * dur).sum()),
        "running_max": float(ints[0].max()) if ints.shape[1] else 0.0,
        "waiting_max": float(ints[1].max()) if ints.shape[1] else 0.0,
    }


_MAX_KEYS = frozenset({"kv_used_max", "running_max", "waiting_max"})


class Downsampler:
    """Bounded buckets of consecutive steps (see module docstring)."""

    # Bucket columns: first start, duration sum, step count, then duration-weighted running/waiting/kv_used,
    # then summed prefill/decode tokens, preemptions, prefix hits, prefix queries.
    _NCOLS = 11

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max(1, max_samples)
        self.steps_per_bucket = 1
        self._buckets = np.empty((self._NCOLS, 0))
        self._pending = np.empty((self._NCOLS, 0))  # single-step rows not yet a full bucket
        self.totals: dict[str, float] = {
            "busy_s": 0.0,
            "kv_used_block_s": 0.0,
            "kv_used_max": 0.0,
            "preemptions": 0.0,
            "prefix_hits": 0.0,
            "prefix_queries": 0.0,
            "in_flight_s": 0.0,
            "running_s": 0.0,
            "waiting_s": 0.0,
            "running_max": 0.0,
            "waiting_max": 0.0,
        }

    def add(self, start: np.ndarray, end: np.ndarray, ints: np.ndarray) -> None:
        part = column_totals(start, end, ints)
        for key, value in part.items():
            self.totals[key] = max(self.totals[key], value) if key in _MAX_KEYS else self.totals[key] + value
        dur = end - start
        rows = np.vstack(
            [
                start,
                dur,
                np.ones_like(dur),
                ints[0] * dur,
                ints[1] * dur,
                ints[4] * dur,
                ints[2],
                ints[3],
                ints[5],
                ints[6],
                ints[7],
            ]
        )
        self._pending = np.hstack([self._pending, rows])
        k = self.steps_per_bucket
        whole = self._pending.shape[1] // k * k
        if whole:
            self._buckets = np.hstack([self._buckets, self._merge(self._pending[:, :whole], k)])
            self._pending = self._pending[:, whole:]
        while self._buckets.shape[1] > 2 * self.max_samples:
            self._halve()

    @staticmethod
    def _merge(rows: np.ndarray, k: int) -> np.ndarray:
        """Merge every k consecutive rows (columns of `rows`) into one bucket."""
        if k == 1:
            return rows
        n = rows.shape[1] // k
        grouped = rows[:, : n * k].reshape(rows.shape[0], n, k)
        merged = grouped.sum(axis=2)
        merged[0] = grouped[0, :, 0]  # a bucket starts where its first step starts
        return merged

    def _halve(self) -> None:
        n = self._buckets.shape[1]
        even = n // 2 * 2
        # An odd last bucket stays as it is (its step count column keeps the aggregation exact).
        self._buckets = np.hstack([self._merge(self._buckets[:, :even], 2), self._buckets[:, even:]])
        self.steps_per_bucket *= 2

    def samples(self, num_usable_blocks: int) -> tuple[StepSample, ...]:
        rows = np.hstack([self._buckets, self._pending]) if self._pending.shape[1] else self._buckets
        # Final pass: at most max_samples buckets.
        while rows.shape[1] > self.max_samples:
            even = rows.shape[1] // 2 * 2
            rows = np.hstack([self._merge(rows[:, :even], 2), rows[:, even:]])
        out = []
        for col in rows.T.tolist():
            start, dur, count, run_w, wait_w, kv_w, prefill, decode, preempt, hits, queries = col
            if dur > 0:
                running, waiting, kv_used = run_w / dur, wait_w / dur, kv_w / dur
            else:
                running = waiting = kv_used = 0.0
            out.append(
                StepSample.model_construct(
                    time_s=start,
                    duration_s=dur,
                    num_running=round(running),
                    num_waiting=round(waiting),
                    num_prefill_tokens=int(prefill),
                    num_decode_tokens=int(decode),
                    kv_usage=kv_used / num_usable_blocks,
                    num_preemptions=int(preempt),
                    prefix_hit_tokens=int(hits),
                    prefix_query_tokens=int(queries),
                    num_steps=int(count),
                )
            )
        return tuple(out)
