"""The SLO capacity search: bracket then bisect to the capacity within the tolerance; repeats and an
interval on a noisy engine; a level that does not keep up with its rate does not hold."""

from __future__ import annotations

import pytest
from fakes import FakeProber, summary_at

from slotune.models import EngineConfig, LoadSpec
from slotune.models.tune import Candidate
from slotune.slo import resolve_slo
from slotune.tune.capacity import CapacitySearch, SearchLimits, sustained
from slotune.tune.probe import Measured

LOAD = LoadSpec(kind="rate", rate_rps=1.0, arrival="poisson", num_requests=200)
SLO = resolve_slo("interactive-chat")
CANDIDATE = Candidate(model="llama-3.1-8b", gpu="h100")


@pytest.mark.parametrize(("capacity", "start"), [(7.3, 1.0), (7.3, 100.0), (0.4, 3.0), (250.0, 0.5)])
def test_finds_the_capacity_within_the_tolerance_from_any_start(capacity: float, start: float) -> None:
    prober = FakeProber(lambda _: capacity)
    result = CapacitySearch(prober, LOAD, SLO, SearchLimits(rel_tol=0.05)).run(
        CANDIDATE, EngineConfig(), start
    )
    assert result.max_rate_rps <= capacity < result.max_rate_rps * 1.05
    held = [p.rate_rps for p in result.probes if p.held]
    failed = [p.rate_rps for p in result.probes if not p.held]
    assert max(held) == result.max_rate_rps and min(failed) > capacity
    assert result.num_runs == len(result.probes) == prober.num_runs <= 16
    assert result.at_capacity is not None and result.at_capacity.rate_rps == result.max_rate_rps
    assert result.binding is not None and result.binding.slo_term == "ttft p99<200ms"


def test_an_slo_that_never_holds_gives_zero_capacity() -> None:
    result = CapacitySearch(FakeProber(lambda _: 0.0), LOAD, SLO, SearchLimits(min_rps=0.01)).run(
        CANDIDATE, EngineConfig(), 1.0
    )
    assert result.max_rate_rps == 0.0 and result.at_capacity is None and result.binding is None
    assert min(p.rate_rps for p in result.probes) < 0.02


def test_a_noisy_engine_runs_repeats_and_reports_an_interval() -> None:
    prober = FakeProber(lambda _: 10.0, noise=0.1, seed=3)
    prober.noisy = True
    result = CapacitySearch(prober, LOAD, SLO, SearchLimits(repeats=3, rel_tol=0.02)).run(
        CANDIDATE, EngineConfig(), 8.0
    )
    # A level holds only when every repeat held: within the noise band the capacity errs low.
    assert 9.0 * 0.98 <= result.max_rate_rps <= 11.0
    assert all(p.repeats == 3 for p in result.probes if p.held)
    assert result.interval_rps is not None
    low, high = result.interval_rps
    assert low == result.max_rate_rps and high >= low
    assert result.at_capacity is not None and result.at_capacity.goodput_rps_std is not None


def test_a_run_that_falls_behind_its_rate_is_not_sustained() -> None:
    ok = Measured(summary_at(10.0, met=True, e2e_s=0.5), None, False, 0.0)
    assert sustained(ok, 10.0)
    # The same 200 requests offered at 100 req/s: sent in 2 s, but a median E2E of 0.5 s means they
    # complete at 200 / 2.5 = 80 req/s, under 90% of the offered rate.
    assert not sustained(ok, 100.0)


@pytest.mark.parametrize(("capacity", "levels"), [(7.1, 2), (6.9, 2), (7.6, 4), (30.0, 11)])
def test_an_informed_start_brackets_with_small_steps_first(capacity: float, levels: int) -> None:
    # Started at 7.0 (a similar configuration's capacity): within 5% two levels settle it; far away the
    # steps square up to x2 (4x away costs 11 levels where x2 steps cost 8) and the result is still within
    # the tolerance.
    prober = FakeProber(lambda _: capacity)
    result = CapacitySearch(prober, LOAD, SLO, SearchLimits(rel_tol=0.05)).run(
        CANDIDATE, EngineConfig(), 7.0, informed=True
    )
    assert result.max_rate_rps <= capacity < result.max_rate_rps * 1.05
    assert len(result.probes) == levels


def test_an_uninformed_start_steps_by_the_full_factor() -> None:
    prober = FakeProber(lambda _: 7.1)
    result = CapacitySearch(prober, LOAD, SLO, SearchLimits(rel_tol=0.05)).run(
        CANDIDATE, EngineConfig(), 7.0, informed=False
    )
    assert {7.0, 14.0} <= {p.rate_rps for p in result.probes}
    assert not any(7.0 < p.rate_rps < 14.0 and p.held for p in result.probes)
