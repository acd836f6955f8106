"""One KV capacity: the planner's pool and "GPU KV cache size" are the simulator's, under every vLLM release.

The simulator sizes its pool with the planner (slotune.plan.plan_capacity) and reports vLLM's "GPU KV cache
size" (kv_cache_utils.get_kv_cache_capacity: int(num_blocks / blocks per max_model_len request x
max_model_len)) from its own groups; both must agree for dense, MoE, MLA and hybrid sliding-window models, in
0.25 and 0.32 (whose sliding groups reserve different in-flight tokens), with and without async scheduling.
A simulated request then holds blocks in every KV-cache group, as vLLM's does.
"""

from __future__ import annotations

import math

import pytest

from slotune.catalog import get_gpu, get_model, load_profile
from slotune.models import EngineConfig, RequestSpec, Workload
from slotune.plan import plan_capacity
from slotune.simulate import Simulator

GRID = [
    ("llama-3.1-8b", "h100", 1),
    ("llama-3.1-8b", "l4", 1),
    ("qwen3-30b-a3b", "h100", 2),
    ("deepseek-v3", "h200", 8),
    ("gemma-3-27b", "h100", 2),
    ("gemma-3-1b", "l4", 1),
    ("gpt-oss-20b", "h100", 1),
    ("gpt-oss-120b", "b200", 1),
]


@pytest.mark.parametrize(("name", "gpu", "tp"), GRID)
@pytest.mark.parametrize("version", ["0.25.0", "0.32.0"])
@pytest.mark.parametrize("async_scheduling", [True, False], ids=["async", "sync"])
def test_planner_and_simulator_report_the_same_kv_capacity(
    name: str, gpu: str, tp: int, version: str, async_scheduling: bool
) -> None:
    model, card = get_model(name), get_gpu(gpu)
    profile = load_profile().model_copy(update={"vllm_version": version})
    config = EngineConfig(tensor_parallel_size=tp, max_model_len=30_000, async_scheduling=async_scheduling)
    plan = plan_capacity(model, card, config, profile=profile)
    sim = Simulator(model, card, profile=profile)
    deployment = sim.deployment(config)
    assert deployment.num_gpu_blocks == plan.kv.capacity_blocks
    assert deployment.capacity.tokens == plan.kv.capacity_tokens
    one = Workload(
        name="one", requests=(RequestSpec(request_id="a", arrival_s=0, prompt_tokens=50, output_tokens=4),)
    )
    engine = sim.run(one, config).engine
    assert engine is not None
    assert (engine.num_gpu_blocks, engine.kv_capacity_tokens) == (
        plan.kv.capacity_blocks,
        plan.kv.capacity_tokens,
    )


def test_a_hybrid_model_request_holds_blocks_in_every_group() -> None:
    # Gemma 3 27B: 1 full-attention group and 6 sliding-window groups (window 1024) share the pool. A
    # 2,000-token prompt takes cdiv(2000, 16) = 125 blocks in each of the 7 groups while it is prefilled; at the
    # first decode step the sliding groups release the blocks before the window (2000 - 1023 = 977 tokens: 61
    # blocks each). Charging one group, as before, made the pool look 7x larger for such requests.
    model, gpu = get_model("gemma-3-27b"), get_gpu("h100")
    sim = Simulator(model, gpu)
    config = EngineConfig(max_model_len=8192, async_scheduling=False)
    wl = Workload(
        name="one", requests=(RequestSpec(request_id="a", arrival_s=0, prompt_tokens=2000, output_tokens=3),)
    )
    result = sim.run(wl, config)
    usable = sim.deployment(config).num_gpu_blocks - 1
    used = [round(s.kv_usage * usable) for s in result.timeline]
    assert used[0] == 7 * 125
    assert used[1] == 126 + 6 * (126 - 61)  # token 2,001 opens block 126 in every group
    # The planner's max concurrency counts the same groups: an 8,192-token request takes 512 full blocks and, in
    # each sliding group, its admission cap cdiv(min(1023 + 8192, 8192), 16) + 1 (sync: one step in flight).
    plan = plan_capacity(model, gpu, config)
    assert plan.kv.max_concurrency == pytest.approx(
        plan.kv.capacity_blocks / (512 + 6 * (math.ceil(min(1023 + 8192, 8192) / 16) + 1))
    )
