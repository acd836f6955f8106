from __future__ import annotations

import pytest
from sim_helpers import workload

from slotune.models import EngineConfig, SpeculativeConfig
from slotune.simulate import Simulator
from slotune.simulate.spec_decode import AcceptanceSampler, CounterRng


def spec_config(
    rates: tuple[float, ...], k: int = 3, method: str = "eagle", ratio: float = 0.05
) -> EngineConfig:
    spec = SpeculativeConfig(
        method=method, num_speculative_tokens=k, acceptance_rates=rates, draft_cost_ratio=ratio
    )  # type: ignore[arg-type]
    return EngineConfig(max_model_len=8192, speculative_config=spec)


def test_counter_rng_is_a_pure_function_of_its_key() -> None:
    rng = CounterRng(5)
    assert rng.uniform(1, 2, 3) == CounterRng(5).uniform(1, 2, 3)
    assert rng.uniform(1, 2, 3) != rng.uniform(1, 2, 4) != rng.uniform(2, 2, 3)
    draws = [rng.uniform(i, j, 0) for i in range(100) for j in range(100)]
    assert min(draws) >= 0.0 and max(draws) < 1.0
    assert sum(draws) / len(draws) == pytest.approx(0.5, abs=0.01)


def test_expected_tokens_per_step() -> None:
    spec = SpeculativeConfig(num_speculative_tokens=3, acceptance_rates=(0.8, 0.5, 0.5))
    sampler = AcceptanceSampler(spec, CounterRng(0))
    assert sampler.expected_tokens_per_step() == pytest.approx(1 + 0.8 + 0.4 + 0.2)
    mean = sum(1 + sampler.num_accepted(r, s, 3) for r in range(200) for s in range(100)) / 20_000
    assert mean == pytest.approx(2.4, rel=0.02)


def test_full_acceptance_emits_k_plus_one_tokens_per_step(make_sim) -> None:
    sim: Simulator = make_sim()
    (rec,) = sim.run(workload([(0.0, 200, 41)]), spec_config((1.0,))).records
    # 1 token from the prefill step, then 4 per verify step: 1 + 4 x 10 = 41.
    assert rec.chunk_tokens == (1,) + (4,) * 10
    assert rec.output_tokens == 41 and len(rec.chunk_times_s) == 11


def test_output_is_trimmed_at_max_tokens(make_sim) -> None:
    sim: Simulator = make_sim()
    (rec,) = sim.run(workload([(0.0, 200, 7)]), spec_config((1.0,))).records
    assert rec.chunk_tokens == (1, 4, 2) and rec.output_tokens == 7


def test_mean_tokens_per_chunk_matches_the_acceptance_model(make_sim) -> None:
    sim: Simulator = make_sim()
    rows = [(i * 0.5, 300, 2000) for i in range(8)]
    result = sim.run(workload(rows), spec_config((0.7,)))
    tokens = [t for r in result.records for t in r.chunk_tokens[1:-1]]  # verify steps, untrimmed
    assert sum(tokens) / len(tokens) == pytest.approx(1 + 0.7 + 0.49 + 0.343, rel=0.02)


def test_speculation_speeds_up_decode_only_when_drafts_are_accepted(make_sim) -> None:
    sim: Simulator = make_sim()
    wl = workload([(0.0, 300, 400)])
    plain = sim.run(wl, EngineConfig(max_model_len=8192)).records[0]
    good = sim.run(wl, spec_config((0.8,))).records[0]
    useless = sim.run(wl, spec_config((0.0,))).records[0]
    assert good.e2e_s < plain.e2e_s  # type: ignore[operator]
    # Nothing accepted: one token per step like plain decoding, but each step verifies 4 tokens and runs
    # the drafter, so it is slower.
    assert useless.chunk_tokens == (1,) * 400
    assert useless.e2e_s > plain.e2e_s  # type: ignore[operator]


def test_eagle_reserves_lookahead_slots_and_ngram_does_not(make_sim) -> None:
    sim: Simulator = make_sim()
    eagle = sim._engine(sim.deployment(spec_config((0.5,))), [], 16, None)
    ngram = sim._engine(sim.deployment(spec_config((0.5,), method="ngram", ratio=0.0)), [], 16, None)
    assert eagle.scheduler.limits.num_lookahead_tokens == 3
    assert ngram.scheduler.limits.num_lookahead_tokens == 0
    assert eagle.scheduler.limits.num_spec_tokens == ngram.scheduler.limits.num_spec_tokens == 3
    # CUDA graphs for verify batches come in multiples of k + 1.
    assert all(s % 4 == 0 for s in sim.deployment(spec_config((0.5,))).capture_sizes)
