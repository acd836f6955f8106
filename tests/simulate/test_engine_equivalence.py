"""The closed-form fast path gives exactly the step-by-step results; results are deterministic."""

from __future__ import annotations

import json

import pytest
from sim_helpers import ASYNC, SYNC, poisson_workload, workload

import slotune.simulate.engine as engine_module
import slotune.simulate.timeline as timeline_module
from slotune.catalog import get_gpu, get_model
from slotune.models import EngineConfig, HardwareProfile, RunResult, SpeculativeConfig, Workload
from slotune.simulate import Simulator, load_profile


def comparable(result: RunResult) -> str:
    # Provenance and the fast-step count record which path computed the result; everything else must match
    # to the bit.
    assert result.simulator is not None
    return result.model_copy(
        update={
            "provenance": result.provenance.model_copy(update={"extra": {}}),
            "simulator": result.simulator.model_copy(update={"num_fast_steps": 0}),
        }
    ).model_dump_json()


def shared_prefix_workload() -> Workload:
    rows, prefix = [], []
    for i in range(300):
        system = tuple(range(40)) if i % 3 else tuple(range(1000, 1030))  # two system prompts
        rows.append((i * 0.05, 700 + (i * 37) % 300, 20 + (i * 13) % 120))
        prefix.append((*system, 10000 + i))
    return workload(rows, prefix=prefix)


CASES = {
    "async-moderate": (poisson_workload(12.0, 600, seed=11), ASYNC, 20_000),
    "sync-moderate": (poisson_workload(12.0, 600, seed=12), SYNC, 20_000),
    "overload-small-kv": (poisson_workload(60.0, 500, seed=13), EngineConfig(max_model_len=2048), 900),
    "seat-limited": (
        poisson_workload(30.0, 400, seed=14),
        EngineConfig(max_model_len=4096, max_num_seqs=8),
        20_000,
    ),
    "shared-prefix": (shared_prefix_workload(), ASYNC, 20_000),
    "shared-prefix-small-kv": (shared_prefix_workload(), EngineConfig(max_model_len=2048), 700),
    "no-chunking": (
        poisson_workload(15.0, 400, seed=15),
        EngineConfig(max_model_len=2048, enable_chunked_prefill=False, max_num_batched_tokens=2048),
        20_000,
    ),
    "small-budget": (
        poisson_workload(15.0, 400, seed=16),
        EngineConfig(max_model_len=4096, max_num_batched_tokens=512),
        20_000,
    ),
    "long-prompts-no-caching": (
        poisson_workload(4.0, 150, seed=17, prompt=(2000, 4000), output=(100, 400)),
        EngineConfig(max_model_len=8192, max_num_batched_tokens=1024, enable_prefix_caching=False),
        800,
    ),
}
# vLLM 0.25 counts every prefix-cache lookup of a blocked head: decode runs must count them too.
V025_CASES = {"shared-prefix-small-kv", "overload-small-kv", "seat-limited"}


def v025_profile() -> HardwareProfile:
    return load_profile().model_copy(update={"vllm_version": "0.25.0"})


@pytest.mark.parametrize(
    ("case", "version"), [(c, "0.32.0") for c in sorted(CASES)] + [(c, "0.25.0") for c in sorted(V025_CASES)]
)
def test_fast_path_equals_step_by_step(make_sim, case: str, version: str) -> None:
    wl, config, blocks = CASES[case]
    profile = load_profile().model_copy(update={"vllm_version": version})
    fast: Simulator = make_sim(num_gpu_blocks=blocks, fast_forward=True, profile=profile)
    slow: Simulator = make_sim(num_gpu_blocks=blocks, fast_forward=False, profile=profile)
    fast_result, slow_result = fast.run(wl, config), slow.run(wl, config)
    assert comparable(fast_result) == comparable(slow_result)
    assert fast_result.simulator is not None and slow_result.simulator is not None
    assert fast_result.simulator.num_fast_steps > 0  # the fast path was exercised
    assert slow_result.simulator.num_fast_steps == 0


def test_the_cases_cover_preemption_queueing_and_prefix_hits(make_sim) -> None:
    seen = {}
    for case in ("overload-small-kv", "seat-limited", "shared-prefix-small-kv"):
        wl, config, blocks = CASES[case]
        sim: Simulator = make_sim(num_gpu_blocks=blocks)
        seen[case] = sim.run(wl, config)
    assert seen["overload-small-kv"].engine.num_preemptions > 0  # type: ignore[union-attr, operator]
    assert seen["seat-limited"].simulator.in_flight_mean > 8  # type: ignore[union-attr]
    assert seen["shared-prefix-small-kv"].engine.prefix_hit_tokens > 0  # type: ignore[union-attr, operator]
    assert seen["shared-prefix-small-kv"].simulator.num_evicted_blocks > 0  # type: ignore[union-attr]


def test_vllm_0_25_counts_the_lookups_of_a_blocked_head(make_sim) -> None:
    # 0.25 kv_cache_manager.py get_computed_blocks records every lookup; 0.32 records at admission only
    # (Scheduler.schedule -> record_prefix_cache_stats), so each request's prompt is queried once.
    wl, config, blocks = CASES["overload-small-kv"]  # heads wait for KV blocks
    new = make_sim(num_gpu_blocks=blocks).run(wl, config).engine
    old = make_sim(num_gpu_blocks=blocks, profile=v025_profile()).run(wl, config).engine
    assert new.prefix_query_tokens == sum(r.prompt_tokens for r in wl.requests)
    assert old.prefix_query_tokens > 2 * new.prefix_query_tokens


def test_hybrid_model_fast_path_equals_step_by_step() -> None:
    # Gemma 3 1B: a full-attention group and sliding-window groups (window 512) share the pool; decode runs
    # release the blocks that fall out of the window in bulk.
    model, gpu = get_model("gemma-3-1b"), get_gpu("h100")
    wl = poisson_workload(20.0, 300, seed=18, prompt=(200, 1500), output=(100, 900))
    config = EngineConfig(max_model_len=4096)
    fast = Simulator(model, gpu, num_gpu_blocks=3000).run(wl, config)
    slow = Simulator(model, gpu, num_gpu_blocks=3000, fast_forward=False).run(wl, config)
    assert comparable(fast) == comparable(slow)
    assert fast.simulator is not None and fast.simulator.num_fast_steps > 0
    assert fast.engine is not None and fast.engine.num_preemptions  # the pool is tight


def test_folding_old_timeline_rows_changes_nothing(make_sim, monkeypatch: pytest.MonkeyPatch) -> None:
    wl = poisson_workload(20.0, 400, seed=21)
    monkeypatch.setattr(timeline_module, "FOLD_CHUNK_STEPS", 32)
    plain = make_sim().run(wl, ASYNC)  # folds only at the end
    monkeypatch.setattr(engine_module, "_FOLD_EVERY_STEPS", 64)  # folds all along
    folded_sim: Simulator = make_sim()
    folded = folded_sim.run(wl, ASYNC)
    assert comparable(folded) == comparable(plain)


def test_same_inputs_and_seed_give_byte_identical_json(make_sim) -> None:
    wl = poisson_workload(15.0, 300, seed=4)
    spec = SpeculativeConfig(method="eagle", num_speculative_tokens=3, acceptance_rates=(0.8, 0.6, 0.4))
    config = EngineConfig(max_model_len=4096, speculative_config=spec)
    a = make_sim(seed=7).run(wl, config).model_dump_json()
    b = make_sim(seed=7).run(wl, config).model_dump_json()
    assert a == b
    c = make_sim(seed=8).run(wl, config).model_dump_json()
    assert c != a  # the seed drives the draft acceptance draws


def test_cli_json_is_byte_identical_across_processes(tmp_path) -> None:
    import subprocess
    import sys

    args = [
        sys.executable, "-m", "slotune", "simulate", "--model", "llama-3.1-8b", "--gpu", "h100",
        "--workload", "tests/data/simulate/azure_conv_500.csv", "--num-requests", "200", "--json",
    ]  # fmt: skip
    runs = [
        json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout) for _ in range(2)
    ]
    for run in runs:  # when and how fast it ran differ; every simulated number must not
        del run["created_utc"], run["wall_s"]
    assert runs[0] == runs[1] and runs[0]["result"]["num_requests"] == 200
