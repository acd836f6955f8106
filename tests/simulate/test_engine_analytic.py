"""Analytic checks of the simulator: exact step sums, prefix caching, preemption, rejection, queueing laws."""

from __future__ import annotations

import pytest
from sim_helpers import ASYNC, SYNC, poisson_workload, workload

from slotune.errors import InputError
from slotune.models import EngineConfig
from slotune.simulate import CostModel, Simulator, load_profile


def prefill_s(cost: CostModel, new: int, offset: int = 0) -> float:
    return cost.step_s(
        num_seqs=1,
        prefill_tokens=new,
        decode_tokens=0,
        prefill_pairs=new * offset + new * (new + 1) // 2,
        decode_pairs=0,
        kv_tokens=offset + new,
        num_logits=1,
    )


def decode_s(cost: CostModel, context: int) -> float:
    return cost.step_s(
        num_seqs=1,
        prefill_tokens=0,
        decode_tokens=1,
        prefill_pairs=0,
        decode_pairs=context + 1,
        kv_tokens=context + 1,
        num_logits=1,
    )


@pytest.mark.parametrize("config", [SYNC, ASYNC], ids=["sync", "async"])
@pytest.mark.parametrize("fast_forward", [True, False], ids=["fast", "stepwise"])
def test_one_request_alone_is_one_prefill_plus_decode_steps(
    make_sim, config: EngineConfig, fast_forward: bool
) -> None:
    sim: Simulator = make_sim(fast_forward=fast_forward)
    cost = sim.cost_model(sim.deployment(config))
    prompt, output = 500, 40
    result = sim.run(workload([(1.0, prompt, output)]), config)
    (rec,) = result.records
    # A replay runs from the workload's first arrival, as `bench` sends it: the request arrives at 0.
    assert rec.arrival_s == 0.0
    # Exactly: arrival + prefill step + (output - 1) decode steps, added in the same order.
    t = 0.0 + prefill_s(cost, prompt)
    expected_chunks = [t]
    for i in range(1, output):
        t += decode_s(cost, prompt + i - 1)
        expected_chunks.append(t)
    assert rec.scheduled_s == 0.0
    assert rec.first_token_s == expected_chunks[0]
    assert rec.finish_s == t
    assert list(rec.chunk_times_s) == expected_chunks
    assert rec.chunk_tokens == (1,) * output
    assert rec.output_tokens == output and rec.finish_reason == "length"
    assert sum(s.num_steps for s in result.timeline) == output


def test_repeated_prefix_is_served_from_cache_and_skips_its_prefill(make_sim) -> None:
    sim: Simulator = make_sim()
    cost = sim.cost_model(sim.deployment(SYNC))
    ids = tuple(range(63))  # 63 x 16 tokens of shareable content, more than the prompt
    wl = workload([(0.0, 1000, 5), (10.0, 1000, 5)], prefix=[ids, ids])
    run = sim.run(wl, SYNC)
    first, second = run.records
    assert first.cached_prompt_tokens == 0
    # 62 full blocks (992 tokens) are cached; the last 8 prompt tokens are computed at offset 992.
    assert second.cached_prompt_tokens == 992
    assert second.first_token_s == second.arrival_s + prefill_s(cost, 8, offset=992)
    assert first.first_token_s == first.arrival_s + prefill_s(cost, 1000)
    stats = run.engine
    assert stats is not None
    assert stats.prefix_hit_tokens == 992 and stats.prefix_query_tokens == 2000
    # With prefix caching off the second request pays the whole prefill again.
    off = EngineConfig(max_model_len=8192, async_scheduling=False, enable_prefix_caching=False)
    _, again = sim.run(wl, off).records
    assert again.cached_prompt_tokens == 0
    assert again.first_token_s == again.arrival_s + prefill_s(cost, 1000)


def test_mooncake_prefix_reuse_matches_the_workload_analysis(make_sim) -> None:
    from slotune.models import LoadSpec
    from slotune.workload import analyze, read_workload

    trace = read_workload("tests/data/simulate/mooncake_200.jsonl")
    expected = analyze(trace).prefix_reuse
    assert expected is not None and expected.unbounded_token_fraction > 0.4
    config = EngineConfig(max_model_len=131072)
    # A pool that never evicts: the simulator's hit rate is the trace's reuse (the analysis, computed
    # independently on 512-token hash blocks), less the last-token rule and partial blocks.
    slow = LoadSpec(kind="rate", rate_rps=0.3, arrival="trace")  # the trace's own gaps, slowed down
    roomy: Simulator = make_sim(num_gpu_blocks=400_000)
    result = roomy.run(trace, config, load=slow)
    stats = result.engine
    assert stats is not None and stats.prefix_hit_rate is not None
    assert result.simulator is not None and result.simulator.num_evicted_blocks == 0
    assert stats.prefix_hit_rate == pytest.approx(expected.unbounded_token_fraction, abs=0.01)
    assert sum(r.cached_prompt_tokens for r in result.records) == stats.prefix_hit_tokens
    # The trace's own rate overloads one H100: hits are registered as blocks are allocated, so the hit rate holds.
    overloaded = roomy.run(trace, config).engine
    assert overloaded is not None
    assert overloaded.prefix_hit_rate == pytest.approx(stats.prefix_hit_rate, abs=0.005)
    # A pool of 20,000 blocks evicts, and loses hits.
    tight: Simulator = make_sim(num_gpu_blocks=20_000)
    evicting = tight.run(trace, EngineConfig(max_model_len=65536), load=slow)
    small = evicting.engine
    assert small is not None and small.prefix_hit_rate is not None and evicting.simulator is not None
    assert evicting.simulator.num_evicted_blocks > 0 and small.prefix_hit_rate < stats.prefix_hit_rate - 0.1


def test_a_kv_pool_too_small_preempts_and_recomputes(make_sim) -> None:
    config = EngineConfig(max_model_len=2048, async_scheduling=False)
    rows = [(0.0, 300, 400)] * 8
    small: Simulator = make_sim(num_gpu_blocks=200)  # 199 usable blocks; 8 requests need up to 8 x 44
    big: Simulator = make_sim(num_gpu_blocks=20_000)
    tight = small.run(workload(rows), config)
    roomy = big.run(workload(rows), config)
    tight_stats, roomy_stats = tight.engine, roomy.engine
    assert tight_stats is not None and roomy_stats is not None
    assert roomy_stats.num_preemptions == 0
    assert tight_stats.num_preemptions is not None and tight_stats.num_preemptions > 0
    assert sum(r.num_preemptions for r in tight.records) == tight_stats.num_preemptions
    # Every request still completes in full.
    assert all(r.finish_reason == "length" and r.output_tokens == 400 for r in tight.records)
    # Recompute: preempted requests prefill their prompt and generated tokens again.
    prefill_tokens = sum(s.num_prefill_tokens for s in tight.timeline)
    assert prefill_tokens > 8 * 300
    assert sum(s.num_prefill_tokens for s in roomy.timeline) == 8 * 300
    assert tight_stats.kv_usage_max > 0.95
    assert tight.duration_s > roomy.duration_s


def test_chunked_prefill_off_rejects_a_budget_below_max_model_len(make_sim) -> None:
    sim: Simulator = make_sim()
    bad = EngineConfig(max_model_len=8192, max_num_batched_tokens=4096, enable_chunked_prefill=False)
    with pytest.raises(InputError, match="max_num_batched_tokens=4096") as err:
        sim.run(workload([(0.0, 100, 10)]), bad)
    assert "max_model_len=8192" in err.value.fix
    # vLLM's own default raises the budget to max_model_len when chunking is off.
    ok = EngineConfig(max_model_len=8192, enable_chunked_prefill=False)
    assert sim.deployment(ok).config.max_num_batched_tokens == 8192


def test_chunked_prefill_off_runs_whole_prompts(make_sim) -> None:
    config = EngineConfig(max_model_len=4096, max_num_batched_tokens=4096, enable_chunked_prefill=False)
    sim: Simulator = make_sim()
    result = sim.run(workload([(0.0, 3000, 5), (0.0, 3000, 5)]), config)
    # The second 3000-token prompt does not fit the 1096 tokens left: it waits for the next step, whole.
    prefill_steps = [s.num_prefill_tokens for s in result.timeline if s.num_prefill_tokens]
    assert prefill_steps == [3000, 3000]
    chunked = sim.run(
        workload([(0.0, 3000, 5), (0.0, 3000, 5)]),
        EngineConfig(max_model_len=4096, max_num_batched_tokens=4096),
    )
    assert [s.num_prefill_tokens for s in chunked.timeline if s.num_prefill_tokens] == [4096, 1904]


def test_vllm_0_25_rejects_requests_over_max_model_len(make_sim) -> None:
    # 0.25 renderers/params.py TokenizeParams.max_input_tokens = max_model_len - max_tokens: the frontend refuses
    # prompt + max_tokens > max_model_len with HTTP 400.
    config = EngineConfig(max_model_len=1024)
    sim: Simulator = make_sim(profile=load_profile().model_copy(update={"vllm_version": "0.25.0"}))
    result = sim.run(workload([(0.0, 1000, 100), (0.0, 500, 100), (1.0, 1024, 1)]), config)
    by_id = {r.request_id: r for r in result.records}
    assert by_id["r0"].finish_reason == "rejected" and by_id["r0"].first_token_s is None
    assert by_id["r1"].finish_reason == "length" and by_id["r1"].output_tokens == 100
    assert by_id["r2"].finish_reason == "rejected"  # 1024 + 1 > 1024
    assert result.summary.failures_by_reason == {"rejected": 2}


def test_vllm_0_32_trims_max_tokens_of_requests_over_max_model_len(make_sim) -> None:
    # 0.32 renderers/params.py: only a prompt over max_model_len is refused; entrypoints/serve/utils/api_utils.py
    # get_max_tokens trims max_tokens to max_model_len - prompt (0 for a prompt of max_model_len tokens, which
    # SamplingParams refuses: max_tokens must be at least 1).
    config = EngineConfig(max_model_len=1024)
    sim: Simulator = make_sim()
    assert sim.profile.vllm_version.startswith("0.32")
    result = sim.run(workload([(0.0, 1000, 100), (0.0, 500, 100), (1.0, 1024, 1), (1.0, 1100, 1)]), config)
    by_id = {r.request_id: r for r in result.records}
    assert by_id["r0"].finish_reason == "length" and by_id["r0"].output_tokens == 24
    assert by_id["r1"].output_tokens == 100
    assert by_id["r2"].finish_reason == by_id["r3"].finish_reason == "rejected"
    assert result.summary.failures_by_reason == {"rejected": 2}


def test_littles_law_on_a_steady_poisson_workload(make_sim) -> None:
    sim: Simulator = make_sim()
    wl = poisson_workload(20.0, 3000, seed=1)
    result = sim.run(wl, ASYNC)
    stats = result.simulator
    assert stats is not None
    first = min(r.arrival_s for r in result.records)
    last = max(r.finish_s or 0.0 for r in result.records)
    rate = len(result.records) / (last - first)
    mean_e2e = sum((r.finish_s or 0.0) - r.arrival_s for r in result.records) / len(result.records)
    # Mean in flight from the engine timeline (running + waiting, duration-weighted) vs lambda x W from records.
    assert stats.in_flight_mean == pytest.approx(rate * mean_e2e, rel=0.02)
    assert stats.in_flight_mean > 5  # a loaded system, not an idle one


def test_latency_rises_monotonically_with_load(make_sim) -> None:
    sim: Simulator = make_sim()
    e2e, ttft = [], []
    for rate in (2.0, 5.0, 10.0, 20.0, 40.0):
        summary = sim.run(poisson_workload(rate, 800, seed=3), ASYNC).summary
        e2e.append(summary.e2e_s.mean)
        ttft.append(summary.ttft_s.mean)
    assert e2e == sorted(e2e) and len(set(e2e)) == len(e2e)
    assert ttft == sorted(ttft) and len(set(ttft)) == len(ttft)


def test_same_time_arrivals_keep_workload_order(make_sim) -> None:
    config = EngineConfig(max_model_len=4096, max_num_seqs=1)
    sim: Simulator = make_sim()
    a_first = sim.run(workload([(0.0, 100, 20), (0.0, 300, 20)]), config).records
    assert a_first[0].request_id == "r0" and a_first[0].finish_s <= a_first[1].scheduled_s  # type: ignore[operator]
    b_first = sim.run(workload([(0.0, 300, 20), (0.0, 100, 20)]), config).records
    by_id = {r.request_id: r for r in b_first}
    assert by_id["r0"].finish_s <= by_id["r1"].scheduled_s  # type: ignore[operator]


def test_an_arrival_at_a_step_end_is_seen_by_the_next_schedule(make_sim) -> None:
    sim: Simulator = make_sim()
    cost = sim.cost_model(sim.deployment(SYNC))
    boundary = prefill_s(cost, 100)  # the first step ends exactly here
    rows = [(0.0, 100, 50), (boundary, 100, 50)]
    a, b = sim.run(workload(rows), SYNC).records
    assert b.arrival_s == a.first_token_s
    assert b.scheduled_s == b.arrival_s  # sync: scheduled in the very next step
    cost_async = sim.cost_model(sim.deployment(ASYNC))
    rows = [(0.0, 100, 50), (prefill_s(cost_async, 100), 100, 50)]
    a, b = sim.run(workload(rows), ASYNC).records
    # Async: step 2 was scheduled while step 1 ran (before b arrived), so b starts with step 3.
    assert b.scheduled_s == a.chunk_times_s[1]


def test_a_step_end_frees_its_finished_requests_before_same_time_arrivals(make_sim) -> None:
    """The tie-break at one instant: step end (finished requests free their KV blocks), then arrivals, then
    the next schedule. Two 1,000-token requests do not fit the pool together; one alone does."""
    config = EngineConfig(max_model_len=1536, async_scheduling=False)
    sim: Simulator = make_sim(num_gpu_blocks=101)  # 100 usable blocks of 16 tokens; each request needs 64
    (alone,) = sim.run(workload([(0.0, 1000, 10)]), config).records
    finish = alone.finish_s
    assert finish is not None
    a, b = sim.run(workload([(0.0, 1000, 10), (finish, 1000, 10)]), config).records
    assert a.finish_s == finish and b.arrival_s == finish
    assert (
        b.scheduled_s == finish
    )  # admitted in the schedule made at that very instant, into a's freed blocks
    # Arriving a hair earlier, b waits for a's blocks all the same.
    _, early = sim.run(workload([(0.0, 1000, 10), (finish - 1e-6, 1000, 10)]), config).records
    assert early.scheduled_s == finish


def test_async_scheduling_frees_a_finished_request_one_schedule_later(make_sim) -> None:
    """vLLM v1/engine/core.py EngineCore.step_with_batch_queue schedules step k+1 before it processes step k's
    outputs (Scheduler.update_from_output frees finished requests): a request finishing in step k keeps its seat
    and its KV blocks through the schedule of step k+1 (the scheduler skips it: `num_output_placeholders`)."""
    sim: Simulator = make_sim()
    rows = [(0.0, 100, 5), (0.0, 100, 60), (0.001, 100, 5)]  # r2 arrives once r0 and r1 hold both seats
    for config, waits_a_step in (
        (SYNC.model_copy(update={"max_num_seqs": 2}), False),
        (ASYNC.model_copy(update={"max_num_seqs": 2}), True),
    ):
        short, long, late = sim.run(workload(rows), config).records
        assert short.finish_s is not None and late.scheduled_s is not None
        if waits_a_step:
            # r1 runs alone for one step: r2 gets r0's seat at the end of r1's next step.
            after = [t for t in long.chunk_times_s if t > short.finish_s]
            assert late.scheduled_s == after[0]
        else:
            assert late.scheduled_s == short.finish_s
    # The blocks too: with room for two requests only, a finished request's blocks come back one step later.
    kv = EngineConfig(max_model_len=1536)
    sim_kv: Simulator = make_sim(num_gpu_blocks=101)  # 100 usable blocks; each request needs 64
    a, b, c = sim_kv.run(workload([(0.0, 1000, 5), (0.0, 100, 60), (0.001, 1000, 5)]), kv).records
    assert c.scheduled_s == next(t for t in b.chunk_times_s if t > a.finish_s)  # type: ignore[operator]


def test_step_log_counts_every_computed_token(make_sim) -> None:
    sim: Simulator = make_sim()
    result = sim.run(poisson_workload(10.0, 300, seed=5), ASYNC)
    timeline_prefill = sum(s.num_prefill_tokens for s in result.timeline)
    timeline_decode = sum(s.num_decode_tokens for s in result.timeline)
    assert timeline_prefill == sum(r.prompt_tokens for r in result.records)
    assert timeline_decode == sum(r.output_tokens - 1 for r in result.records)


def test_simulator_is_a_backend_and_handles_edge_workloads(make_sim) -> None:
    from slotune.backend import Backend
    from slotune.models import RequestSpec

    sim: Simulator = make_sim()
    assert isinstance(sim, Backend) and sim.name == "simulator"
    empty = sim.run(workload([]), ASYNC)
    assert empty.records == () and empty.num_requests == 0 and empty.timeline == ()
    # One-token answers finish with their first token.
    (one,) = sim.run(workload([(0.0, 50, 1)]), ASYNC).records
    assert one.finish_s == one.first_token_s and one.chunk_tokens == (1,)
    # A stream must come in arrival order.
    out_of_order = [
        RequestSpec(request_id="a", arrival_s=2.0, prompt_tokens=10, output_tokens=2),
        RequestSpec(request_id="b", arrival_s=1.0, prompt_tokens=10, output_tokens=2),
    ]
    with pytest.raises(InputError, match="arrival order"):
        sim.run_streaming(iter(out_of_order), ASYNC)
    # A workload (not a stream) is sorted by arrival first, ties keeping their order.
    result = sim.run(workload([(2.0, 10, 2), (1.0, 10, 2)]), ASYNC)
    assert [r.request_id for r in result.records] == ["r1", "r0"]
