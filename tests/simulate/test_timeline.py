from __future__ import annotations

import numpy as np
import pytest
from sim_helpers import ASYNC, poisson_workload

from slotune.simulate import Simulator
from slotune.simulate.timeline import Downsampler, StepLog


def test_downsampled_timeline_conserves_counters(make_sim) -> None:
    wl = poisson_workload(15.0, 500, seed=2)
    exact_sim: Simulator = make_sim(max_timeline_samples=1_000_000)
    exact = exact_sim.run(wl, ASYNC)
    small_sim: Simulator = make_sim(max_timeline_samples=50)
    small = small_sim.run(wl, ASYNC)
    assert exact.simulator is not None
    steps = exact.simulator.num_steps
    assert all(s.num_steps == 1 for s in exact.timeline) and len(exact.timeline) == steps
    assert len(small.timeline) <= 50
    assert sum(s.num_steps for s in small.timeline) == steps
    for field in ("num_prefill_tokens", "num_decode_tokens", "num_preemptions", "prefix_query_tokens"):
        assert sum(getattr(s, field) for s in small.timeline) == sum(
            getattr(s, field) for s in exact.timeline
        )
    busy = sum(s.duration_s for s in exact.timeline)
    assert sum(s.duration_s for s in small.timeline) == pytest.approx(busy, rel=1e-9)

    # Gauges are duration-weighted means: the overall mean KV usage is preserved.
    def mean_kv(timeline):  # type: ignore[no-untyped-def]
        return sum(s.kv_usage * s.duration_s for s in timeline) / sum(s.duration_s for s in timeline)

    assert mean_kv(small.timeline) == pytest.approx(mean_kv(exact.timeline), rel=1e-9)
    assert small.timeline[0].time_s == exact.timeline[0].time_s
    assert [s.time_s for s in small.timeline] == sorted(s.time_s for s in small.timeline)


def test_step_log_grows_and_folds() -> None:
    log = StepLog(capacity=4)
    for i in range(10):
        log.append(float(i), float(i) + 0.5, 1, 0, 0, 1, i, 0, 0, 0)
    assert log.num_steps == 10 and log.end_times(2, 4).tolist() == [2.5, 3.5, 4.5]
    sampler = Downsampler(max_samples=100)
    log.fold_before(10, sampler, final=True)
    assert log.size == 0 and log.base == 10
    samples = sampler.samples(num_usable_blocks=10)
    assert [s.num_steps for s in samples] == [1] * 10
    assert samples[3].kv_usage == pytest.approx(0.3)


def test_downsampler_bounds_memory() -> None:
    sampler = Downsampler(max_samples=64)
    for _ in range(50):
        start = np.arange(1000, dtype=float)
        ints = np.ones((8, 1000), dtype=np.int64)
        sampler.add(start, start + 0.5, ints)
    assert sampler._buckets.shape[1] <= 128
    samples = sampler.samples(num_usable_blocks=1)
    assert len(samples) <= 64 and sum(s.num_steps for s in samples) == 50_000
