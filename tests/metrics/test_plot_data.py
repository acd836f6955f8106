"""A run's plot data (slotune.metrics.plot_data) agrees with its summary and with the records it came from."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotune.catalog import get_gpu, get_model
from slotune.metrics.plot_data import NUM_FAILED, cdf_points, completions_over_time, itl_gaps_s, run_plot_data
from slotune.models import EngineConfig, RequestRecord
from slotune.simulate import Simulator
from slotune.slo import resolve_slo
from slotune.workload import synthesize


@pytest.fixture(scope="module")
def simulated():  # type: ignore[no-untyped-def]
    workload = synthesize(preset="chatbot", num_requests=400, rate_rps=8.0, seed=1)
    sim = Simulator(get_model("llama-3.1-8b"), get_gpu("h100"))
    return sim.run(workload, EngineConfig(), slo=resolve_slo("interactive-chat"))


def test_cdfs_agree_with_the_summary(simulated) -> None:  # type: ignore[no-untyped-def]
    data = run_plot_data(simulated.records)
    s = simulated.summary
    for metric in ("ttft", "itl", "tpot", "e2e"):
        cdf, d = data.cdf[metric], getattr(s, f"{metric}_s")
        assert cdf.count == d.count
        assert list(cdf.p) == sorted(cdf.p) and list(cdf.value_s) == sorted(cdf.value_s)
        # Both read the same sample with numpy's linear interpolation.
        for p, stat in ((0.0, "min"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (1.0, "max")):
            assert cdf.value_s[cdf.p.index(p)] == pytest.approx(d.stat(stat), rel=1e-12)
    # The ITL sample has many values, so its tail gets extra points beyond p99.
    assert any(p > 0.99 for p in data.cdf["itl"].p)


def test_completions_count_every_finished_request_and_notables(simulated) -> None:  # type: ignore[no-untyped-def]
    data = run_plot_data(simulated.records)
    starts = [t for t, _, _ in data.completions]
    bin_s = starts[1] - starts[0]
    assert sum(n for _, n, _ in data.completions) * bin_s == pytest.approx(simulated.summary.num_ok)
    assert sum(v for _, _, v in data.completions) * bin_s == pytest.approx(simulated.summary.output_tokens)
    e2e = [r.e2e_s for r in data.slowest]
    assert e2e == sorted(e2e, reverse=True) and e2e[0] == pytest.approx(simulated.summary.e2e_s.max)
    assert data.failed == () and data.num_failed == 0


def test_failed_requests_are_listed_first_ones_first() -> None:
    records = [
        RequestRecord(request_id=f"r{i}", arrival_s=float(i), finish_reason="error", error=f"boom {i}")
        for i in range(NUM_FAILED + 5)
    ]
    data = run_plot_data(records)
    assert data.num_failed == NUM_FAILED + 5
    assert [r.request_id for r in data.failed] == [f"r{i}" for i in range(NUM_FAILED)]
    assert data.cdf["ttft"].count == 0 and data.completions == ()


chunk_lists = st.lists(
    st.lists(st.floats(0, 1e3, allow_nan=False), min_size=0, max_size=6).map(sorted), min_size=0, max_size=8
)


@given(chunk_lists)
def test_itl_gaps_are_each_requests_own_gaps(chunks: list[list[float]]) -> None:
    records = [
        RequestRecord(request_id=str(i), arrival_s=0.0, chunk_times_s=tuple(c)) for i, c in enumerate(chunks)
    ]
    expected = [b - a for c in chunks for a, b in itertools.pairwise(c)]
    assert itl_gaps_s(records).tolist() == pytest.approx(expected)


def test_cdf_points_small_sample_is_exact_and_large_one_is_bounded() -> None:
    small = cdf_points(np.array([3.0, 1.0, 2.0]))
    assert small.value_s == (1.0, 2.0, 3.0) and small.p == pytest.approx((1 / 3, 2 / 3, 1.0))
    rng = np.random.default_rng(0)
    large = cdf_points(rng.exponential(size=50_000))
    assert large.count == 50_000 and len(large.p) < 120
    # Tail points only where the sample reaches: 1 - p >= 1/n.
    assert min(1 - p for p in large.p if p < 1) >= 1 / 50_000 - 1e-12


def test_short_runs_get_bins_that_hold_several_completions() -> None:
    finish = np.linspace(0.0, 1.7, 20)
    rates = completions_over_time(finish, np.ones(20))
    bin_s = rates[1][0] - rates[0][0]
    assert bin_s >= 5 * 1.7 / 20 and len(rates) <= 5
