from __future__ import annotations

import numpy as np
import pytest
from slotune.bench.load import LoadSpec, gaps_s, open_loop_times_s, plan_jobs, replay_times_s

from slotune.errors import InputError
from slotune.models import RequestSpec, Workload


def _workload(n: int = 5, gap_s: float = 0.5) -> Workload:
    return Workload(
        name="w",
        requests=tuple(
            RequestSpec(request_id=f"r{i}", arrival_s=i * gap_s, prompt_tokens=10, output_tokens=5)
            for i in range(n)
        ),
    )


def test_constant_rate_is_exact() -> None:
    times = open_loop_times_s(
        LoadSpec(kind="rate", rate_rps=8, arrival="constant"), seed=0, num_requests=1001
    )
    assert times[0] == 0.0
    np.testing.assert_allclose(np.diff(times), 1 / 8, rtol=0, atol=1e-12)
    long = open_loop_times_s(LoadSpec(kind="rate", rate_rps=7, arrival="constant"), seed=0, until_s=1000.0)
    assert len(long) == 7000
    assert long[-1] == pytest.approx(6999 / 7, abs=1e-9)  # no accumulated drift


@pytest.mark.parametrize("arrival, cv", [("poisson", None), ("gamma", 0.5), ("gamma", 3.0)])
def test_mean_rate_and_cv_are_right_without_clipping(arrival: str, cv: float | None) -> None:
    rng = np.random.default_rng(1)
    n = 400_000
    gaps = gaps_s(n, 10.0, arrival, cv, rng)  # type: ignore[arg-type]
    se = (cv or 1.0) / np.sqrt(n)  # relative standard error of the mean gap
    assert gaps.mean() == pytest.approx(0.1, rel=5 * se)
    assert gaps.std() / gaps.mean() == pytest.approx(cv or 1.0, rel=0.02)
    # No clipping: the tail goes as far as the distribution does (an exponential's max of 400k draws is ~13 means).
    if arrival == "poisson":
        assert gaps.max() > 10 * 0.1


def test_schedule_is_reproducible_with_a_seed_and_differs_across_seeds() -> None:
    spec = LoadSpec(kind="rate", rate_rps=5)
    a = open_loop_times_s(spec, seed=3, num_requests=50)
    b = open_loop_times_s(spec, seed=3, num_requests=50)
    c = open_loop_times_s(spec, seed=4, num_requests=50)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_num_requests_counts_measured_requests_after_the_warmup() -> None:
    jobs = plan_jobs(
        _workload(),
        LoadSpec(kind="rate", rate_rps=10, arrival="constant"),
        seed=0,
        num_requests=20,
        duration_s=None,
        warmup_s=1.0,
    )
    warm = [j for j in jobs if j.warmup]
    measured = [j for j in jobs if not j.warmup]
    assert len(warm) == 10 and all(j.send_s is not None and j.send_s < 1.0 for j in warm)
    assert len(measured) == 20 and all(j.send_s is not None and j.send_s >= 1.0 for j in measured)
    # The workload is cycled: job i sends request i % 5 in cycle i // 5.
    assert [(j.spec.request_id, j.cycle) for j in jobs[:6]] == [
        ("r0", 0),
        ("r1", 0),
        ("r2", 0),
        ("r3", 0),
        ("r4", 0),
        ("r0", 1),
    ]


def test_poisson_warmup_split_keeps_the_same_schedule() -> None:
    spec = LoadSpec(kind="rate", rate_rps=20)
    with_warmup = plan_jobs(_workload(), spec, seed=5, num_requests=30, duration_s=None, warmup_s=0.5)
    plain = open_loop_times_s(spec, seed=5, num_requests=len(with_warmup))
    np.testing.assert_allclose([j.send_s for j in with_warmup], plain)


def test_duration_bounds_the_measured_window() -> None:
    jobs = plan_jobs(
        _workload(),
        LoadSpec(kind="rate", rate_rps=4, arrival="constant"),
        seed=0,
        num_requests=None,
        duration_s=2.0,
        warmup_s=0.5,
    )
    assert max(j.send_s for j in jobs if j.send_s is not None) < 2.5
    assert sum(1 for j in jobs if not j.warmup) == 8


def test_replay_uses_the_trace_times_scaled() -> None:
    wl = _workload(n=4, gap_s=2.0)
    np.testing.assert_allclose(replay_times_s(wl, 0.5), [0.0, 1.0, 2.0, 3.0])
    jobs = plan_jobs(
        wl, LoadSpec(kind="replay", time_scale=0.25), seed=0, num_requests=None, duration_s=None, warmup_s=0.0
    )
    assert [j.send_s for j in jobs] == [0.0, 0.5, 1.0, 1.5]
    with pytest.raises(InputError, match="num-requests"):
        plan_jobs(wl, LoadSpec(kind="replay"), seed=0, num_requests=9, duration_s=None, warmup_s=0.0)


@pytest.mark.parametrize(
    "spec, field",
    [
        (LoadSpec(kind="rate", rate_rps=0), "rate"),
        (LoadSpec(kind="rate", rate_rps=1, arrival="gamma"), "cv"),
        (LoadSpec(kind="rate", rate_rps=1, arrival="poisson", cv=2.0), "cv"),
        (LoadSpec(kind="concurrency", concurrency=0), "concurrency"),
        (LoadSpec(kind="replay", time_scale=0), "time-scale"),
    ],
)
def test_bad_load_specs_name_the_field(spec: LoadSpec, field: str) -> None:
    with pytest.raises(InputError) as info:
        spec.check()
    assert info.value.field == field
