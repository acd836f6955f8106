"""The closed-loop job source: the schedule's draw (tests/load) on the run's clock, turned into requests."""

from __future__ import annotations

from dataclasses import dataclass

from slotune.bench.worker import ClosedLoopSource
from slotune.load import ClosedLoopSchedule, Job, build_schedule
from slotune.models import LoadSpec, RequestSpec, Workload


@dataclass
class _Factory:
    """Stands in for RequestFactory: returns the planned job itself."""

    def make(self, job: Job) -> Job:
        return job


def _source(*, t0: float, load: LoadSpec) -> ClosedLoopSource:
    spec = RequestSpec(request_id="a", arrival_s=0.0, prompt_tokens=4, output_tokens=4)
    schedule = build_schedule(Workload(name="w", requests=(spec,)), load, 0)
    assert isinstance(schedule, ClosedLoopSchedule)
    return ClosedLoopSource(factory=_Factory(), draw=schedule.draw(), t0=t0)  # type: ignore[arg-type]


def test_no_warmup_means_every_job_is_measured_even_one_made_before_t0() -> None:
    src = _source(t0=100.0, load=LoadSpec(kind="concurrency", concurrency=1, num_requests=3))
    jobs = [src.next(99.9999), src.next(100.0), src.next(100.5)]
    assert [j.warmup for j in jobs] == [False, False, False]  # type: ignore[union-attr]
    assert src.next(101.0) is None  # the quota of 3 measured requests is used up


def test_the_warmup_and_the_window_are_on_the_run_clock() -> None:
    load = LoadSpec(kind="concurrency", concurrency=1, duration_s=2.0, warmup_s=1.0, think_time_s=0.25)
    src = _source(t0=50.0, load=load)
    assert src.think_time_s == 0.25
    first, second = src.next(50.9), src.next(51.0)
    assert (first.warmup, second.warmup) == (True, False)  # type: ignore[union-attr]
    assert src.next(52.99) is not None and src.next(53.0) is None
