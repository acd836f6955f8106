"""The schedule of a run, from (workload, load, seed) alone: which workload request is sent when (open loop
and replay), or in which order a closed loop's users draw them. The simulator and the HTTP load generator
both run the schedule this module builds, so the same command line on `simulate` and `bench` sends the
same requests at the same times.

Requests are taken in arrival order (a stable sort: file order among equal times). An open or closed loop
that needs more requests than the workload has goes through it again; pass c > 0 of request "x" is sent as
"x~c" (and `bench` gives its prefix blocks fresh content, so the repetition does not turn into cache hits).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from slotune.errors import InputError
from slotune.load.arrivals import arrival_times_s
from slotune.models import LoadSpec, RequestSpec, Workload

# The schedule's own random stream: numpy's default_rng([seed, 7]), apart from every other use of the seed.
SCHEDULE_STREAM = 7


class Job(NamedTuple):
    """One request of a run: which workload request it sends and, in an open loop, when. (A named tuple: a
    run makes one per request, and a frozen dataclass costs three times as much to build.)"""

    seq: int  # the per-run sequence number: position in send order (open loop) or draw order (closed loop)
    spec: RequestSpec
    cycle: int  # pass through the workload, from 0
    send_s: float | None  # seconds after the run's start; None in a closed loop (sent when a user is free)
    warmup: bool  # sent during the warm-up: run, but not measured

    @property
    def request_id(self) -> str:
        return self.spec.request_id if self.cycle == 0 else f"{self.spec.request_id}~{self.cycle}"


@dataclass(frozen=True, slots=True)
class OpenLoopSchedule:
    """Every job in send order (warm-up jobs first, since they are sent first)."""

    jobs: tuple[Job, ...]

    @property
    def num_measured(self) -> int:
        return sum(1 for j in self.jobs if not j.warmup)


@dataclass(frozen=True, slots=True)
class ClosedLoopSchedule:
    """`users` users, each sending its next request `think_time_s` after its previous one finished. Jobs are
    drawn in sequence order (`draw`); warm-up until `warmup_s`, then `quota` measured jobs or every send before
    `measure_end_s` (seconds after the run's start)."""

    requests: tuple[RequestSpec, ...]
    users: int
    think_time_s: float
    warmup_s: float
    measure_end_s: float | None
    quota: int | None

    def job(self, seq: int, *, warmup: bool) -> Job:
        n = len(self.requests)
        return Job(seq, self.requests[seq % n], seq // n, None, warmup)

    def draw(self, *, start: int = 0, step: int = 1, quota: int | None = None) -> ClosedLoopDraw:
        """The jobs' source; `start`/`step`/`quota` give one worker process its share (default: all)."""
        return ClosedLoopDraw(self, start, step, self.quota if quota is None else quota)


@dataclass(slots=True)
class ClosedLoopDraw:
    """Next job for a user free at `now_s` (seconds after the run's start), or None when the run is over."""

    schedule: ClosedLoopSchedule
    next_seq: int
    step: int
    quota: int | None

    def next(self, now_s: float) -> Job | None:
        s = self.schedule
        if s.measure_end_s is not None and now_s >= s.measure_end_s:
            return None
        warmup = s.warmup_s > 0 and now_s < s.warmup_s  # no warm-up asked: none at all, even at t < 0
        if not warmup and self.quota is not None:
            if self.quota <= 0:
                return None
            self.quota -= 1
        job = s.job(self.next_seq, warmup=warmup)
        self.next_seq += self.step
        return job


Schedule = OpenLoopSchedule | ClosedLoopSchedule


def build_schedule(workload: Workload, load: LoadSpec, seed: int) -> Schedule:
    """The schedule of `workload` under `load`; randomness only from `seed` (see SCHEDULE_STREAM)."""
    if seed < 0:
        raise InputError("--seed", seed, "give a seed of 0 or more")
    reqs = in_arrival_order(workload)
    if not reqs and load.kind != "replay":
        raise InputError("workload", workload.name, "the workload has no requests to send")
    if load.kind == "concurrency":
        assert load.concurrency is not None
        return ClosedLoopSchedule(
            requests=reqs,
            users=load.concurrency,
            think_time_s=load.think_time_s,
            warmup_s=load.warmup_s,
            measure_end_s=None if load.duration_s is None else load.warmup_s + load.duration_s,
            quota=_measured_count(load, len(reqs)),
        )
    if load.kind == "replay":
        return OpenLoopSchedule(_replay_jobs(reqs, load))
    return OpenLoopSchedule(_open_loop_jobs(reqs, load, seed))


def in_arrival_order(workload: Workload) -> tuple[RequestSpec, ...]:
    reqs = workload.requests
    if all(a.arrival_s <= b.arrival_s for a, b in itertools.pairwise(reqs)):
        return reqs
    return tuple(sorted(reqs, key=lambda r: r.arrival_s))


def _measured_count(load: LoadSpec, num_workload_requests: int) -> int | None:
    """Measured requests: as asked, none (a time window) with --duration, else each workload request once."""
    if load.num_requests is not None:
        return load.num_requests
    return None if load.duration_s is not None else num_workload_requests


def _replay_jobs(reqs: tuple[RequestSpec, ...], load: LoadSpec) -> tuple[Job, ...]:
    if not reqs:
        return ()
    arrivals = np.asarray([r.arrival_s for r in reqs], dtype=float)
    times = (arrivals - arrivals[0]) * load.time_scale
    warmup_s = load.warmup_s
    jobs = [Job(i, r, 0, t, t < warmup_s) for i, (r, t) in enumerate(zip(reqs, times.tolist(), strict=True))]
    warm = [j for j in jobs if j.warmup]
    measured = [j for j in jobs if not j.warmup]
    if load.duration_s is not None:
        end_s = warmup_s + load.duration_s
        measured = [j for j in measured if j.send_s is not None and j.send_s < end_s]
    if load.num_requests is not None:
        if load.num_requests > len(measured):
            raise InputError(
                "--num-requests",
                load.num_requests,
                f"the trace has {len(measured)} requests after the warm-up; ask for at most that many",
            )
        measured = measured[: load.num_requests]
    return (*warm, *measured)


def _open_loop_jobs(reqs: tuple[RequestSpec, ...], load: LoadSpec, seed: int) -> tuple[Job, ...]:
    warmup_s = load.warmup_s
    if load.duration_s is not None:
        times = _open_loop_times_s(reqs, load, seed, until_s=warmup_s + load.duration_s)
    else:
        measured = _measured_count(load, len(reqs))
        assert measured is not None
        num_warm = len(_open_loop_times_s(reqs, load, seed, until_s=warmup_s)) if warmup_s > 0 else 0
        times = _open_loop_times_s(reqs, load, seed, count=num_warm + measured)
    n = len(reqs)
    # Python floats (tolist), not numpy scalars: a run makes one job per request.
    return tuple(Job(i, reqs[i % n], i // n, t, t < warmup_s) for i, t in enumerate(times.tolist()))


def _open_loop_times_s(
    reqs: tuple[RequestSpec, ...],
    load: LoadSpec,
    seed: int,
    *,
    count: int | None = None,
    until_s: float | None = None,
) -> np.ndarray:
    """The first `count` send times, or every one before `until_s`; a fresh generator each call, so the
    times before the warm-up's end are the same whichever way the run is measured."""
    assert load.rate_rps is not None
    if load.arrival == "trace":
        return trace_times_s(reqs, load.rate_rps, count=count, until_s=until_s)
    rng = np.random.default_rng([seed, SCHEDULE_STREAM])
    return arrival_times_s(
        rng, rate_rps=load.rate_rps, kind=load.arrival, cv=load.cv, num_requests=count, duration_s=until_s
    )


def trace_times_s(
    reqs: tuple[RequestSpec, ...], rate_rps: float, *, count: int | None = None, until_s: float | None = None
) -> np.ndarray:
    """The workload's own arrival gaps scaled to mean rate `rate_rps` (its burstiness kept): request k of a
    pass at (a_k - a_0) x scale, scale = (n - 1) / span / rate; pass c starts c x n / rate later (one mean
    gap after the previous pass's last request)."""
    arrivals = np.asarray([r.arrival_s for r in reqs], dtype=float)
    n = len(arrivals)
    span = float(arrivals[-1] - arrivals[0]) if n else 0.0
    if n < 2 or span <= 0:
        raise InputError(
            "--arrival",
            "trace",
            "the workload's requests all arrive at once, so it has no gaps to scale; "
            "use --arrival poisson, gamma or constant",
        )
    base = (arrivals - arrivals[0]) * ((n - 1) / span / rate_rps)
    period_s = n / rate_rps
    if count is None:
        assert until_s is not None
        count = (math.floor(until_s / period_s) + 1) * n
    index = np.arange(count)
    times = (index // n) * period_s + base[index % n]
    return times if until_s is None else times[times < until_s]
