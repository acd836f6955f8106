"""The schedule of a run from (workload, load, seed): send times, which request, warm-up, closed-loop draws."""

from __future__ import annotations

import numpy as np
import pytest

from slotune.errors import InputError
from slotune.load import ClosedLoopSchedule, OpenLoopSchedule, build_schedule
from slotune.load.arrivals import arrival_times_s
from slotune.models import LoadSpec, RequestSpec, Workload


def _workload(n: int = 5, gap_s: float = 0.5) -> Workload:
    return Workload(
        name="w",
        requests=tuple(
            RequestSpec(request_id=f"r{i}", arrival_s=i * gap_s, prompt_tokens=10, output_tokens=5)
            for i in range(n)
        ),
    )


def _open(workload: Workload, seed: int = 0, **load: object) -> OpenLoopSchedule:
    schedule = build_schedule(workload, LoadSpec.model_validate(load), seed)
    assert isinstance(schedule, OpenLoopSchedule)
    return schedule


def test_num_requests_counts_measured_requests_after_the_warmup() -> None:
    jobs = _open(
        _workload(), kind="rate", rate_rps=10, arrival="constant", num_requests=20, warmup_s=1.0
    ).jobs
    warm = [j for j in jobs if j.warmup]
    measured = [j for j in jobs if not j.warmup]
    assert len(warm) == 10 and all(j.send_s is not None and j.send_s < 1.0 for j in warm)
    assert len(measured) == 20 and all(j.send_s is not None and j.send_s >= 1.0 for j in measured)
    # The workload is cycled: job i sends request i % 5 in pass i // 5, under an id of its own.
    assert [(j.spec.request_id, j.cycle, j.request_id) for j in jobs[4:6]] == [
        ("r4", 0, "r4"),
        ("r0", 1, "r0~1"),
    ]
    assert [j.seq for j in jobs] == list(range(30))


def test_poisson_warmup_split_keeps_the_same_schedule() -> None:
    with_warmup = _open(_workload(), 5, kind="rate", rate_rps=20, num_requests=30, warmup_s=0.5).jobs
    plain = _open(_workload(), 5, kind="rate", rate_rps=20, num_requests=len(with_warmup)).jobs
    assert [j.send_s for j in with_warmup] == [j.send_s for j in plain]
    # The schedule's own stream of the seed: numpy's default_rng([seed, 7]).
    expected = arrival_times_s(
        np.random.default_rng([5, 7]), rate_rps=20, kind="poisson", num_requests=len(plain)
    )
    assert [j.send_s for j in plain] == expected.tolist()


def test_same_seed_same_schedule_other_seed_other_times() -> None:
    a, b = (_open(_workload(), 3, kind="rate", rate_rps=5, num_requests=50) for _ in range(2))
    c = _open(_workload(), 4, kind="rate", rate_rps=5, num_requests=50)
    assert a == b and [j.send_s for j in a.jobs] != [j.send_s for j in c.jobs]


def test_duration_bounds_the_measured_window() -> None:
    jobs = _open(_workload(), kind="rate", rate_rps=4, arrival="constant", duration_s=2.0, warmup_s=0.5).jobs
    assert max(j.send_s for j in jobs if j.send_s is not None) < 2.5
    assert sum(1 for j in jobs if not j.warmup) == 8


def test_without_an_amount_each_request_is_sent_once() -> None:
    assert len(_open(_workload(n=7), kind="rate", rate_rps=3).jobs) == 7
    closed = build_schedule(_workload(n=7), LoadSpec(kind="concurrency", concurrency=2), 0)
    assert isinstance(closed, ClosedLoopSchedule) and closed.quota == 7 and closed.measure_end_s is None


def test_replay_uses_the_trace_times_scaled() -> None:
    wl = _workload(n=4, gap_s=2.0)
    assert [j.send_s for j in _open(wl, kind="replay", time_scale=0.25).jobs] == [0.0, 0.5, 1.0, 1.5]
    measured = _open(wl, kind="replay", time_scale=0.5, warmup_s=1.5, num_requests=2).jobs
    assert [(j.spec.request_id, j.warmup) for j in measured] == [
        ("r0", True),
        ("r1", True),
        ("r2", False),
        ("r3", False),
    ]
    with pytest.raises(InputError, match="num-requests"):
        _open(wl, kind="replay", num_requests=9)


def test_requests_are_taken_in_arrival_order() -> None:
    shuffled = Workload(name="w", requests=tuple(reversed(_workload(n=3).requests)))
    assert [j.spec.request_id for j in _open(shuffled, kind="replay").jobs] == ["r0", "r1", "r2"]
    assert [j.spec.request_id for j in _open(shuffled, kind="rate", rate_rps=1).jobs] == ["r0", "r1", "r2"]


def test_trace_arrivals_scale_the_workload_gaps_to_the_rate() -> None:
    rng = np.random.default_rng(0)
    arrivals = np.round(np.cumsum(rng.gamma(0.25, 4.0, 200)) - 0, 6)  # bursty: CV 2
    wl = Workload(
        name="t",
        requests=tuple(
            RequestSpec(
                request_id=str(i), arrival_s=float(a - arrivals[0]), prompt_tokens=10, output_tokens=5
            )
            for i, a in enumerate(arrivals)
        ),
    )
    jobs = _open(wl, kind="rate", rate_rps=8.0, arrival="trace", num_requests=400).jobs
    times = np.asarray([j.send_s for j in jobs])
    first = times[:200]
    # The first pass is the workload itself, scaled: mean rate exactly 8 req/s, the same burstiness.
    assert (len(first) - 1) / first[-1] == pytest.approx(8.0, rel=1e-12)
    own = np.diff(arrivals)
    assert np.diff(first).std() / np.diff(first).mean() == pytest.approx(own.std() / own.mean(), rel=1e-9)
    # The second pass follows one mean gap after the first, with the same gaps.
    assert times[200] - times[199] == pytest.approx(1 / 8.0)
    np.testing.assert_allclose(times[200:] - times[200], first, atol=1e-9)
    assert [j.spec.request_id for j in jobs[199:201]] == ["199", "0"]
    with pytest.raises(InputError, match="arrival"):
        _open(_workload(n=3, gap_s=0.0), kind="rate", rate_rps=1.0, arrival="trace")


def test_closed_loop_draws_warmup_then_the_quota_then_stops() -> None:
    schedule = build_schedule(
        _workload(n=2), LoadSpec(kind="concurrency", concurrency=3, num_requests=2, warmup_s=1.0), 0
    )
    assert isinstance(schedule, ClosedLoopSchedule)
    draw = schedule.draw()
    jobs = [draw.next(0.2), draw.next(0.9), draw.next(1.0), draw.next(1.5)]
    assert [(j.spec.request_id, j.cycle, j.warmup) for j in jobs if j] == [
        ("r0", 0, True),
        ("r1", 0, True),  # warm-up jobs do not use the quota
        ("r0", 1, False),
        ("r1", 1, False),
    ]
    assert draw.next(1.6) is None


def test_closed_loop_window_and_shares() -> None:
    schedule = build_schedule(_workload(), LoadSpec(kind="concurrency", concurrency=2, duration_s=5.0), 0)
    assert isinstance(schedule, ClosedLoopSchedule) and schedule.quota is None
    draw = schedule.draw()
    first = draw.next(-1e-6)  # no warm-up asked: none at all, even a hair before the start
    assert first is not None and not first.warmup
    assert draw.next(4.999) is not None and draw.next(5.0) is None
    # One worker process's share: every second index from 1, and its part of a quota.
    share = build_schedule(_workload(), LoadSpec(kind="concurrency", concurrency=2, num_requests=5), 0)
    assert isinstance(share, ClosedLoopSchedule)
    odd = share.draw(start=1, step=2, quota=2)
    assert [j.seq for j in (odd.next(0), odd.next(0)) if j] == [1, 3] and odd.next(0) is None


@pytest.mark.parametrize(
    "values, flag",
    [
        ({"kind": "rate", "rate_rps": 0}, "--rate"),
        ({"kind": "rate"}, "--rate"),
        ({"kind": "replay", "rate_rps": 2.0}, "--rate"),
        ({"kind": "rate", "rate_rps": 1, "arrival": "gamma"}, "--cv"),
        ({"kind": "rate", "rate_rps": 1, "arrival": "poisson", "cv": 2.0}, "--cv"),
        ({"kind": "rate", "rate_rps": 1, "arrival": "weibull"}, "--arrival"),
        ({"kind": "replay", "arrival": "constant"}, "--arrival"),
        ({"kind": "concurrency", "concurrency": 0}, "--concurrency"),
        ({"kind": "concurrency", "concurrency": 2, "think_time_s": -1.0}, "--think-time"),
        ({"kind": "rate", "rate_rps": 1, "think_time_s": 1.0}, "--think-time"),
        ({"kind": "replay", "time_scale": 0}, "--time-scale"),
        ({"kind": "rate", "rate_rps": 1, "time_scale": 2.0}, "--time-scale"),
        ({"num_requests": 0}, "--num-requests"),
        ({"num_requests": 5, "duration_s": 2.0}, "--duration"),
        ({"duration_s": float("inf")}, "--duration"),
        ({"warmup_s": -1.0}, "--warmup-s"),
        ({"kind": "open"}, "kind"),
    ],
)
def test_bad_loads_name_the_flag(values: dict[str, object], flag: str) -> None:
    with pytest.raises(InputError) as info:
        LoadSpec.model_validate(values)
    assert info.value.field == flag and info.value.fix


def test_load_is_frozen_and_round_trips() -> None:
    load = LoadSpec(kind="concurrency", concurrency=4, think_time_s=0.5, duration_s=30.0, warmup_s=5.0)
    assert LoadSpec.model_validate_json(load.model_dump_json()) == load
    with pytest.raises(Exception, match="frozen"):
        load.concurrency = 5  # type: ignore[misc]
    assert load.at_rate(2.0).kind == "rate" and load.at_rate(2.0).duration_s == 30.0
    assert load.with_users(8).think_time_s == 0.5
    assert "think 0.5 s" in load.describe()
