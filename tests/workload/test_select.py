"""The workload of a simulate/bench run: a file as it is, or a preset synthesized for the load."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.errors import InputError
from slotune.load import OpenLoopSchedule, build_schedule
from slotune.models import LoadSpec
from slotune.workload.select import CLOSED_LOOP_POOL, select_workload
from slotune.workload.synth import synthesize


def test_an_open_loop_on_a_preset_is_the_synthesized_workload_replayed() -> None:
    load = LoadSpec(kind="rate", rate_rps=6.0, duration_s=20.0)
    workload, run_load = select_workload(None, "chatbot", load, seed=3)
    assert workload == synthesize(
        preset="chatbot", rate_rps=6.0, duration_s=20.0, seed=3
    )  # = `workload synth`
    assert run_load == LoadSpec(duration_s=20.0)
    schedule = build_schedule(workload, run_load, 3)
    assert isinstance(schedule, OpenLoopSchedule)
    assert [j.send_s for j in schedule.jobs] == [r.arrival_s for r in workload.requests]


def test_a_preset_with_a_warmup_and_a_count_measures_exactly_that_count() -> None:
    for arrival, cv in (("poisson", None), ("gamma", 3.0), ("constant", None)):
        load = LoadSpec(kind="rate", rate_rps=10.0, arrival=arrival, cv=cv, num_requests=25, warmup_s=2.0)
        workload, run_load = select_workload(None, "rag", load, seed=1)
        schedule = build_schedule(workload, run_load, 1)
        assert isinstance(schedule, OpenLoopSchedule)
        assert schedule.num_measured == 25 and len(schedule.jobs) == len(workload.requests)
        assert all(j.warmup == (j.send_s is not None and j.send_s < 2.0) for j in schedule.jobs)


def test_trace_arrivals_on_a_preset_are_its_own_burstiness() -> None:
    load = LoadSpec(kind="rate", rate_rps=4.0, arrival="trace", num_requests=50)
    workload, _ = select_workload(None, "code-completion", load, seed=2)
    assert "arrival=gamma" in workload.source and "cv=13.15" in workload.source  # the preset's CV


def test_a_replayed_preset_defaults_to_a_minute_of_its_own_rate() -> None:
    workload, run_load = select_workload(None, "summarization", LoadSpec(time_scale=0.5), seed=0)
    assert run_load.time_scale == 0.5 and "rate_rps=0.5" in workload.source
    # 120 s of the preset's arrivals, replayed twice as fast: a minute (none in the last 20 s has p = e^-20).
    assert 40.0 < workload.requests[-1].arrival_s * 0.5 < 60.0


def test_a_closed_loop_on_a_preset_draws_from_a_pool() -> None:
    load = LoadSpec(kind="concurrency", concurrency=4, duration_s=30.0)
    workload, run_load = select_workload(None, "classification", load, seed=0)
    assert len(workload.requests) == CLOSED_LOOP_POOL and run_load == load


def test_a_file_is_used_as_it_is(data_dir: Path) -> None:
    path = data_dir / "azure_conv_slice.csv"
    load = LoadSpec(kind="rate", rate_rps=2.0, num_requests=10)
    workload, run_load = select_workload(path, None, load, seed=0)
    assert run_load == load and workload.digest and len(workload.requests) > 10


def test_exactly_one_source() -> None:
    with pytest.raises(InputError, match="exactly one"):
        select_workload(None, None, LoadSpec(), seed=0)
    with pytest.raises(InputError, match="--workload"):
        select_workload(Path("/nonexistent/w.jsonl"), None, LoadSpec(), seed=0)
