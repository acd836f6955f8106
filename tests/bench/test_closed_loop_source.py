"""The closed-loop job source: which jobs are warm-up, and the measured quota."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from slotune.bench.load import Job

from slotune.bench.worker import ClosedLoopSource


@dataclass
class _Factory:
    """Stands in for RequestFactory: returns the planned job itself."""

    def make(self, job: Job) -> Job:
        return job


def _source(*, t0: float, warmup_s: float, quota: int) -> ClosedLoopSource:
    return ClosedLoopSource(
        factory=_Factory(),  # type: ignore[arg-type]
        make_job=lambda i, w: Job(i, None, 0, None, w),  # type: ignore[arg-type]
        indices=itertools.count(),
        t0=t0,
        warmup_end_t=t0 + warmup_s,
        measure_end_t=None,
        quota=quota,
    )


def test_no_warmup_means_every_job_is_measured_even_one_made_before_t0():
    src = _source(t0=100.0, warmup_s=0.0, quota=3)
    jobs = [src.next(99.9999), src.next(100.0), src.next(100.5)]
    assert [j.warmup for j in jobs] == [False, False, False]  # type: ignore[union-attr]
    assert src.next(101.0) is None  # the quota of 3 measured requests is used up


def test_warmup_jobs_do_not_use_the_quota():
    src = _source(t0=0.0, warmup_s=1.0, quota=1)
    first, second, third = src.next(0.2), src.next(0.9), src.next(1.0)
    assert (first.warmup, second.warmup, third.warmup) == (True, True, False)  # type: ignore[union-attr]
    assert src.next(1.1) is None
