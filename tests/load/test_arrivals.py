"""Arrival processes: the mean rate and CV they promise, no clipping, no drift, seeded determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slotune.load.arrivals import arrival_times_s, interarrival_gaps_s


@pytest.mark.parametrize("cv", [0.5, 3.0, 13.15])
def test_gamma_arrivals_hit_the_rate_and_the_cv(cv: float) -> None:
    rng = np.random.default_rng(0)
    gaps = interarrival_gaps_s(rng, 1_000_000, rate_rps=4.0, kind="gamma", cv=cv)
    # Standard error of the mean gap is cv / sqrt(n) (1.3% at cv 13): 5% is > 3.5 standard errors.
    assert 1 / gaps.mean() == pytest.approx(4.0, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.1)
    # Nothing clipped: the long gaps are there (clipping them raises the rate), and for bursty
    # processes so are the near-zero ones.
    mean_gap = 1 / 4.0
    assert gaps.max() > mean_gap * (1 + 4 * cv)
    if cv >= 1:
        assert gaps.min() < 0.01 * mean_gap


def test_poisson_gaps_have_an_exponential_tail() -> None:
    gaps = interarrival_gaps_s(np.random.default_rng(1), 200_000, rate_rps=2.0, kind="poisson")
    # P(gap > 3/rate) = e^-3 for an unclipped exponential.
    assert np.mean(gaps > 1.5) == pytest.approx(math.exp(-3), rel=0.05)
    assert gaps.mean() == pytest.approx(0.5, rel=5 / math.sqrt(200_000))


def test_duration_bounds_the_arrivals() -> None:
    t = arrival_times_s(np.random.default_rng(2), rate_rps=50.0, kind="poisson", duration_s=100.0)
    assert t[0] == 0.0 and t.max() < 100.0 and np.all(np.diff(t) >= 0)
    assert len(t) == pytest.approx(5000, rel=0.05)


def test_constant_rate_is_exact_without_drift() -> None:
    times = arrival_times_s(np.random.default_rng(0), rate_rps=8, kind="constant", num_requests=1001)
    assert times[0] == 0.0
    np.testing.assert_allclose(np.diff(times), 1 / 8, rtol=0, atol=1e-12)
    long = arrival_times_s(np.random.default_rng(0), rate_rps=7, kind="constant", duration_s=1000.0)
    assert len(long) == 7000
    assert long[-1] == 6999 / 7  # i / rate exactly: no accumulated drift


def test_a_count_and_a_duration_give_the_same_leading_times() -> None:
    """The times before a horizon do not depend on how the run is measured (warm-up counting relies on it)."""
    by_count = arrival_times_s(np.random.default_rng(5), rate_rps=20, kind="gamma", cv=2.0, num_requests=400)
    by_time = arrival_times_s(np.random.default_rng(5), rate_rps=20, kind="gamma", cv=2.0, duration_s=10.0)
    np.testing.assert_array_equal(by_count[: len(by_time)], by_time)


def test_same_generator_seed_same_times() -> None:
    a = arrival_times_s(np.random.default_rng([3, 7]), rate_rps=5, kind="poisson", num_requests=50)
    b = arrival_times_s(np.random.default_rng([3, 7]), rate_rps=5, kind="poisson", num_requests=50)
    c = arrival_times_s(np.random.default_rng([4, 7]), rate_rps=5, kind="poisson", num_requests=50)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
