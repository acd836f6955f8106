"""The simulator's closed loop: N users, each sending its next request when its previous one finished (+ think)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sim_helpers import ASYNC, SYNC, poisson_workload, workload
from test_engine_equivalence import comparable

from slotune.errors import InputError
from slotune.models import EngineConfig, LoadSpec, RequestRecord
from slotune.simulate import Simulator


def closed(users: int, **amount: float | int) -> LoadSpec:
    return LoadSpec.model_validate({"kind": "concurrency", "concurrency": users, **amount})


def in_flight_at(records: tuple[RequestRecord, ...], t: float) -> int:
    return sum(1 for r in records if r.arrival_s <= t and r.finish_s is not None and t < r.finish_s)


@pytest.mark.parametrize("config", [SYNC, ASYNC], ids=["sync", "async"])
def test_one_user_runs_requests_back_to_back(make_sim, config: EngineConfig) -> None:
    sim: Simulator = make_sim()
    fixed = workload([(0.0, 400, 30)] * 3)
    result = sim.run(fixed, config, load=closed(1, num_requests=12))
    records = sorted(result.records, key=lambda r: r.arrival_s)
    assert [r.request_id for r in records[:4]] == ["r0", "r1", "r2", "r0~1"]  # drawn in order, cycled
    for before, after in itertools.pairwise(records):
        assert after.arrival_s == before.finish_s  # sent the instant the previous one finished
        assert after.scheduled_s == after.arrival_s  # an idle engine takes it at once
    e2e = np.array([r.finish_s - r.arrival_s for r in records])  # type: ignore[operator]
    np.testing.assert_allclose(e2e, e2e[0], rtol=1e-9)  # the same work each time, alone on the engine
    assert result.duration_s == pytest.approx(12 * e2e[0], rel=1e-9)
    assert result.summary.request_throughput_rps == pytest.approx(1 / e2e[0], rel=1e-9)


def test_think_time_is_exactly_the_gap_after_each_response(make_sim) -> None:
    sim: Simulator = make_sim()
    result = sim.run(workload([(0.0, 300, 20)]), SYNC, load=closed(1, num_requests=5, think_time_s=0.75))
    records = sorted(result.records, key=lambda r: r.arrival_s)
    gaps = [b.arrival_s - a.finish_s for a, b in itertools.pairwise(records)]  # type: ignore[operator]
    assert gaps == pytest.approx([0.75] * 4, abs=1e-12)


@pytest.mark.parametrize("think_s", [0.0, 0.3])
def test_n_users_never_have_more_than_n_requests_in_flight(make_sim, think_s: float) -> None:
    sim: Simulator = make_sim()
    users = 6
    result = sim.run(
        poisson_workload(5.0, 50, seed=2), ASYNC, load=closed(users, num_requests=150, think_time_s=think_s)
    )
    assert len(result.records) == 150
    events = sorted({r.arrival_s for r in result.records} | {r.finish_s for r in result.records})  # type: ignore[arg-type]
    counts = [in_flight_at(result.records, t) for t in events]
    assert max(counts) == users  # every user busy at some point, never more
    assert all(s.num_running + s.num_waiting <= users for s in result.timeline)
    if think_s == 0:
        # No think time: until the quota runs out, every user always has a request in flight (a finish and
        # its user's next arrival are the same instant).
        last_send = max(r.arrival_s for r in result.records)
        assert all(c == users for t, c in zip(events, counts, strict=True) if t < last_send)
    else:
        assert sum(counts) / len(counts) < users * 0.95


def test_more_users_than_seats_queue_in_the_engine(make_sim) -> None:
    sim: Simulator = make_sim()
    config = EngineConfig(max_model_len=4096, max_num_seqs=4)
    result = sim.run(poisson_workload(5.0, 40, seed=3), config, load=closed(10, num_requests=80))
    assert max(s.num_running for s in result.timeline) == 4
    # The other users' requests queue: 6 while 4 run, 7 in the step after a finish, whose seat stays taken
    # through that step's schedule (async scheduling: the finish is processed after the next schedule).
    assert max(s.num_waiting for s in result.timeline) == 7
    assert max(s.num_running + s.num_waiting for s in result.timeline) == 10
    sync = sim.run(
        poisson_workload(5.0, 40, seed=3),
        config.model_copy(update={"async_scheduling": False}),
        load=closed(10, num_requests=80),
    )
    assert max(s.num_waiting for s in sync.timeline) == 6


def test_warmup_is_simulated_but_not_reported_and_the_window_stops_sends(make_sim) -> None:
    sim: Simulator = make_sim()
    wl = poisson_workload(5.0, 40, seed=4)
    result = sim.run(wl, ASYNC, load=closed(3, duration_s=5.0, warmup_s=2.0))
    assert result.records and all(2.0 <= r.arrival_s < 7.0 for r in result.records)
    assert result.duration_s == pytest.approx(
        max(r.finish_s for r in result.records) - min(r.arrival_s for r in result.records)
    )  # type: ignore[type-var]
    everything = sim.run(wl, ASYNC, load=closed(3, duration_s=7.0))
    # The same draws: with and without a warm-up, requests sent from 2 s on are the same ones at the same times.
    after = [(r.request_id, r.arrival_s, r.finish_s) for r in everything.records if r.arrival_s >= 2.0]
    assert after == [(r.request_id, r.arrival_s, r.finish_s) for r in result.records]


def test_a_request_refused_at_the_door_is_followed_at_once(make_sim) -> None:
    sim: Simulator = make_sim()
    config = EngineConfig(max_model_len=1024, async_scheduling=False)
    wl = workload([(0.0, 300, 20), (0.0, 2000, 20), (0.0, 300, 20)])  # r1 is longer than max_model_len
    records = sim.run(wl, config, load=closed(1, num_requests=6, think_time_s=0.1)).records
    by_id = {r.request_id: r for r in records}
    rejected = by_id["r1"]
    assert rejected.finish_reason == "rejected" and rejected.finish_s == rejected.arrival_s
    assert by_id["r2"].arrival_s == pytest.approx(rejected.arrival_s + 0.1)
    with pytest.raises(InputError, match="max_model_len"):
        sim.run(workload([(0.0, 2000, 20)]), config, load=closed(2, duration_s=10.0))


LOADS = {
    "users-4": (EngineConfig(max_model_len=8192), closed(4, num_requests=200)),
    "users-32-think": (EngineConfig(max_model_len=8192), closed(32, num_requests=300, think_time_s=0.05)),
    "sync-users-16": (SYNC, closed(16, duration_s=20.0, warmup_s=3.0)),
    "seat-limited": (EngineConfig(max_model_len=4096, max_num_seqs=8), closed(24, num_requests=200)),
    "small-kv": (EngineConfig(max_model_len=2048), closed(40, num_requests=200)),
}


@pytest.mark.parametrize("case", sorted(LOADS))
def test_fast_path_equals_step_by_step_in_a_closed_loop(make_sim, case: str) -> None:
    config, load = LOADS[case]
    wl = poisson_workload(10.0, 120, seed=8)
    blocks = 900 if case == "small-kv" else 20_000
    fast: Simulator = make_sim(num_gpu_blocks=blocks, fast_forward=True)
    slow: Simulator = make_sim(num_gpu_blocks=blocks, fast_forward=False)
    fast_result = fast.run(wl, config, load=load)
    assert comparable(fast_result) == comparable(slow.run(wl, config, load=load))
    assert fast_result.simulator is not None and fast_result.simulator.num_fast_steps > 0
    if case == "small-kv":
        assert fast_result.engine is not None and (fast_result.engine.num_preemptions or 0) > 0
