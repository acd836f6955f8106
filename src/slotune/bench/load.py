"""Load patterns: when each request is sent.

Open loop (the schedule does not wait for the server): Poisson, gamma with a coefficient of variation, or
constant rate; trace replay at the trace's own arrival times, time-scaled. Closed loop: N users, each sending
its next request when the previous one finished. Gaps are drawn from the exact distribution and never
clipped or rescaled, so the mean rate is the requested one (a Poisson generator that clips its gaps at,
say, 3 sigma raises the rate by ~5%; one that rescales the gaps to hit N/rate exactly changes the
distribution). Randomness comes only from a generator seeded with the run's seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from slotune.errors import InputError
from slotune.models import RequestSpec, Workload

ArrivalKind = Literal["poisson", "gamma", "constant"]
LoadKind = Literal["rate", "concurrency", "replay"]
ARRIVALS: tuple[str, ...] = ("poisson", "gamma", "constant")


@dataclass(frozen=True, slots=True)
class LoadSpec:
    kind: LoadKind
    rate_rps: float | None = None
    arrival: ArrivalKind = "poisson"
    cv: float | None = None
    concurrency: int | None = None
    time_scale: float = 1.0

    def describe(self) -> str:
        if self.kind == "rate":
            extra = f", cv {self.cv:g}" if self.arrival == "gamma" and self.cv is not None else ""
            return f"{self.rate_rps:g} req/s ({self.arrival}{extra})"
        if self.kind == "concurrency":
            return f"{self.concurrency} concurrent users (closed loop)"
        return f"trace replay (time scale {self.time_scale:g})"

    def check(self) -> None:
        if self.kind == "rate":
            if self.rate_rps is None or not self.rate_rps > 0 or not np.isfinite(self.rate_rps):
                raise InputError(
                    "rate", self.rate_rps, "give a positive request rate in req/s, e.g. --rate 4"
                )
            if self.arrival not in ARRIVALS:
                raise InputError("arrival", self.arrival, f"use one of {', '.join(ARRIVALS)}")
            if self.arrival == "gamma" and (self.cv is None or not self.cv > 0):
                raise InputError(
                    "cv", self.cv, "gamma arrivals need a positive --cv (1 = Poisson, > 1 burstier)"
                )
            if self.arrival != "gamma" and self.cv is not None:
                raise InputError("cv", self.cv, "--cv applies to --arrival gamma only")
        elif self.kind == "concurrency":
            if self.concurrency is None or self.concurrency < 1:
                raise InputError("concurrency", self.concurrency, "give at least 1 concurrent user")
        elif not self.time_scale > 0:
            raise InputError(
                "time-scale", self.time_scale, "give a positive factor (0.5 replays twice as fast)"
            )


def gaps_s(
    n: int, rate_rps: float, arrival: ArrivalKind, cv: float | None, rng: np.random.Generator
) -> np.ndarray:
    """n inter-arrival gaps with mean 1/rate."""
    if arrival == "constant":
        return np.full(n, 1.0 / rate_rps)
    if arrival == "poisson":
        return rng.exponential(1.0 / rate_rps, size=n)
    assert cv is not None
    shape = 1.0 / (cv * cv)  # gamma: CV = 1/sqrt(shape); mean = shape * scale
    return rng.gamma(shape, 1.0 / (rate_rps * shape), size=n)


def open_loop_times_s(
    spec: LoadSpec, *, seed: int, num_requests: int | None = None, until_s: float | None = None
) -> np.ndarray:
    """Send times of an open-loop rate schedule: the first request at 0, then cumulative gaps.

    Exactly `num_requests` times, or every time before `until_s`.
    """
    assert spec.rate_rps is not None
    rng = np.random.default_rng([seed, 7])
    if num_requests is not None:
        if spec.arrival == "constant":
            # Multiply rather than accumulate: t_i = i / rate exactly, no float drift.
            return np.arange(num_requests) / spec.rate_rps
        gaps = gaps_s(max(0, num_requests - 1), spec.rate_rps, spec.arrival, spec.cv, rng)
        return np.concatenate([[0.0], np.cumsum(gaps)])
    assert until_s is not None
    times: list[np.ndarray] = [np.zeros(1)]
    last = 0.0
    batch = max(16, int(spec.rate_rps * until_s * 1.2) + 16)
    while last < until_s:
        if spec.arrival == "constant":
            start = sum(len(t) for t in times)
            chunk = np.arange(start, start + batch) / spec.rate_rps
        else:
            chunk = last + np.cumsum(gaps_s(batch, spec.rate_rps, spec.arrival, spec.cv, rng))
        times.append(chunk)
        last = float(chunk[-1])
    all_times = np.concatenate(times)
    return all_times[all_times < until_s]


def replay_times_s(workload: Workload, time_scale: float) -> np.ndarray:
    """The trace's own arrival times, from its first request, multiplied by `time_scale`."""
    if not workload.requests:
        return np.empty(0)
    arrivals = np.asarray([r.arrival_s for r in workload.requests], dtype=float)
    order_ok = np.all(np.diff(arrivals) >= 0)
    if not order_ok:
        arrivals = np.sort(arrivals)
    return (arrivals - arrivals[0]) * time_scale


@dataclass(frozen=True, slots=True)
class Job:
    """One request of the run: which workload request it sends and, for open loop, when."""

    index: int
    spec: RequestSpec
    cycle: int
    send_s: float | None  # None in closed loop: sent when a user is free
    warmup: bool


def plan_jobs(
    workload: Workload,
    spec: LoadSpec,
    *,
    seed: int,
    num_requests: int | None,
    duration_s: float | None,
    warmup_s: float,
) -> list[Job]:
    """Every job of an open-loop run, in send order; warm-up jobs (sent before `warmup_s`) come first.

    `num_requests` counts measured requests (after the warm-up); `duration_s` is the measured window.
    """
    reqs = workload.requests
    if not reqs:
        raise InputError("workload", workload.name, "the workload has no requests")
    if spec.kind == "replay":
        times = replay_times_s(workload, spec.time_scale)
        order = np.argsort([r.arrival_s for r in reqs], kind="stable")
        jobs = [
            Job(i, reqs[int(k)], 0, float(t), bool(t < warmup_s))
            for i, (k, t) in enumerate(zip(order, times, strict=True))
        ]
        measured = [j for j in jobs if not j.warmup]
        if duration_s is not None:
            measured = [j for j in measured if j.send_s is not None and j.send_s < warmup_s + duration_s]
        if num_requests is not None:
            if num_requests > len(measured):
                raise InputError(
                    "num-requests",
                    num_requests,
                    f"the trace has {len(measured)} requests after the warm-up; ask for at most that many",
                )
            measured = measured[:num_requests]
        return [j for j in jobs if j.warmup] + measured
    assert spec.kind == "rate"
    if num_requests is not None:
        times = open_loop_times_s(spec, seed=seed, until_s=warmup_s) if warmup_s > 0 else np.empty(0)
        n_warm = len(times)
        all_times = open_loop_times_s(spec, seed=seed, num_requests=n_warm + num_requests)
    else:
        assert duration_s is not None
        all_times = open_loop_times_s(spec, seed=seed, until_s=warmup_s + duration_s)
    return [
        Job(i, reqs[i % len(reqs)], i // len(reqs), float(t), bool(t < warmup_s))
        for i, t in enumerate(all_times)
    ]


def closed_loop_job(workload: Workload, index: int, *, warmup: bool) -> Job:
    reqs = workload.requests
    return Job(index, reqs[index % len(reqs)], index // len(reqs), None, warmup)
