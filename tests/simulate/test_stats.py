from __future__ import annotations

import numpy as np
import pytest
from sim_helpers import ASYNC, poisson_workload

from slotune.simulate import Simulator
from slotune.simulate.stats import QuantileSketch
from slotune.slo import resolve_slo


def test_sketch_quantiles_are_within_the_stated_relative_error() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(mean=-3.0, sigma=1.2, size=200_000)
    sketch = QuantileSketch(relative_accuracy=0.005)
    for part in np.array_split(values, 7):
        sketch.add_many(part)
    ordered = np.sort(values)
    for q in (0.01, 0.5, 0.9, 0.95, 0.99, 0.999):
        rank = int(np.floor(q * (len(values) - 1)))
        exact = ordered[rank]
        assert sketch.quantile(q) == pytest.approx(exact, rel=0.005)
    assert sketch.count == len(values)
    assert sketch.total / sketch.count == pytest.approx(values.mean(), rel=1e-12)
    assert sketch.min == values.min() and sketch.max == values.max()


def test_sketch_memory_does_not_grow_and_merges() -> None:
    a, b = QuantileSketch(), QuantileSketch()
    size = a.counts.nbytes
    a.add_many(np.linspace(0.001, 1, 100_000))
    b.add_many(np.linspace(1, 10, 100_000))
    assert a.counts.nbytes == size
    a.merge(b)
    assert a.count == 200_000 and a.quantile(0.5) == pytest.approx(1.0, rel=0.01)


def test_failures_count_as_infinite_latency() -> None:
    sketch = QuantileSketch()
    sketch.add_many(np.full(95, 0.1))
    sketch.num_inf = 5
    assert sketch.statistic("p90") == pytest.approx(0.1, rel=0.005)
    assert sketch.statistic("p99") == float("inf")
    assert sketch.statistic("mean") == float("inf")


def test_streaming_mode_agrees_with_full_records(make_sim) -> None:
    wl = poisson_workload(20.0, 2000, seed=9)
    slo = resolve_slo("ttft:p99<150ms;itl:p99<30ms@0.9")
    sim: Simulator = make_sim()
    full = sim.run(wl, ASYNC, slo=slo)
    exact = full.summary
    streamed = sim.run_streaming(iter(wl.requests), ASYNC, slo=slo)
    approx = streamed.summary
    assert streamed.records == () and streamed.num_requests == full.num_requests == 2000
    assert approx.output_tokens == exact.output_tokens and approx.prompt_tokens == exact.prompt_tokens
    assert approx.slo_attainment == exact.slo_attainment  # per-request checks are exact
    assert approx.duration_s == exact.duration_s
    for name in ("ttft_s", "itl_s", "tpot_s", "e2e_s"):
        a, e = getattr(approx, name), getattr(exact, name)
        assert a.count == e.count and a.max == e.max and a.min == e.min
        assert a.mean == pytest.approx(e.mean, rel=1e-9)
        for stat in ("p50", "p90", "p99"):
            # Sketch error (0.5%) plus nearest-rank vs numpy's interpolation between neighbours.
            assert getattr(a, stat) == pytest.approx(getattr(e, stat), rel=0.02)
    for ta, te in zip(approx.targets, exact.targets, strict=True):
        assert ta.observed == pytest.approx(te.observed, rel=0.02)
    assert approx.quantile_relative_error == 0.005 and exact.quantile_relative_error is None
    assert streamed.timeline == full.timeline
