from __future__ import annotations

import pytest
from sim_helpers import workload

from slotune.errors import InputError
from slotune.models import EngineConfig, SpeculativeConfig
from slotune.simulate import Simulator, load_profile
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


def test_proposer_semantics_follow_vllm(make_sim) -> None:
    """vLLM (0.25 and 0.32): config/vllm.py `VllmConfig.num_lookahead_tokens` (0.25: Scheduler.__init__) reserves
    k KV slots ahead for EAGLE-family and draft-model proposers only; `VllmConfig.__post_init__` turns async
    scheduling off by default for the CPU proposers (ngram, suffix), which also run no GPU draft pass."""
    sim: Simulator = make_sim()
    engines = {
        m: sim._engine(sim.deployment(spec_config((0.5,), method=m)), [], 16, None)
        for m in ("eagle", "mtp", "draft_model", "ngram", "suffix")
    }
    lookahead = {m: e.scheduler.limits.num_lookahead_tokens for m, e in engines.items()}
    assert lookahead == {"eagle": 3, "mtp": 3, "draft_model": 3, "ngram": 0, "suffix": 0}
    assert all(e.scheduler.limits.num_spec_tokens == 3 for e in engines.values())
    asynchronous = {m: e.async_scheduling for m, e in engines.items()}
    assert asynchronous == {"eagle": True, "mtp": True, "draft_model": True, "ngram": False, "suffix": False}
    draft = {m: e.cost.draft_factor for m, e in engines.items()}
    assert draft["eagle"] == pytest.approx(3 * 0.05) and draft["ngram"] == draft["suffix"] == 0.0


def test_vllm_0_25_runs_draft_models_synchronously(make_sim) -> None:
    # 0.25 config/vllm.py VllmConfig.__post_init__: async scheduling left to its default is turned off with a
    # draft model (0.32 keeps it); given explicitly, both run it.
    old: Simulator = make_sim(profile=load_profile().model_copy(update={"vllm_version": "0.25.0"}))
    assert not old.deployment(spec_config((0.5,), method="draft_model")).config.async_scheduling
    spec = {"method": "draft_model", "num_speculative_tokens": 3}
    explicit = EngineConfig.model_validate(
        {"max_model_len": 8192, "async_scheduling": True, "speculative_config": spec}
    )
    assert old.deployment(explicit).config.async_scheduling


def test_explicit_async_scheduling_with_a_cpu_proposer_is_refused(make_sim) -> None:
    sim: Simulator = make_sim()
    config = EngineConfig.model_validate(
        {
            "max_model_len": 8192,
            "async_scheduling": True,
            "speculative_config": {"method": "ngram", "num_speculative_tokens": 3},
        }
    )
    with pytest.raises(InputError, match="async_scheduling"):
        sim.deployment(config)


def test_eagle_drops_the_last_block_of_every_prefix_hit(make_sim) -> None:
    # single_type_kv_cache_manager.py FullAttentionManager.find_longest_cache_hit, drop_eagle_block: EAGLE and
    # MTP recompute the last hit block to get its hidden states. A 96-token prompt seen before hits 5 blocks
    # (80 tokens, the last token is always recomputed); with EAGLE 4 (64 tokens).
    sim: Simulator = make_sim()
    ids = tuple(range(6))
    wl = workload([(0.0, 96, 4), (5.0, 96, 4)], prefix=[ids, ids])
    plain = sim.run(wl, EngineConfig(max_model_len=8192))
    eagle = sim.run(wl, spec_config((0.5,)))
    ngram = sim.run(wl, spec_config((0.5,), method="ngram"))
    assert [r.cached_prompt_tokens for r in plain.records] == [0, 80]
    assert [r.cached_prompt_tokens for r in eagle.records] == [0, 64]
    assert [r.cached_prompt_tokens for r in ngram.records] == [0, 80]


def test_capture_sizes_round_to_verify_batches_only_on_the_v1_model_runner(make_sim) -> None:
    # config/compilation.py adjust_cudagraph_sizes_for_spec_decode runs only on the V1 model runner, which
    # 0.25 uses for n-gram (VllmConfig._get_v2_model_runner_unsupported_features) and 0.32 only for suffix.
    old: Simulator = make_sim(profile=load_profile().model_copy(update={"vllm_version": "0.25.0"}))
    new: Simulator = make_sim()
    assert all(s % 4 == 0 for s in old.deployment(spec_config((0.5,), method="ngram")).capture_sizes)
    assert not all(s % 4 == 0 for s in new.deployment(spec_config((0.5,), method="ngram")).capture_sizes)
    assert all(s % 4 == 0 for s in new.deployment(spec_config((0.5,), method="suffix")).capture_sizes)
    assert not all(s % 4 == 0 for s in old.deployment(spec_config((0.5,))).capture_sizes)
