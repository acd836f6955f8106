"""One latency model: the planner's prefill and decode times equal the simulator's steps minus its overheads.

The simulator runs real workloads (its own scheduler decides the chunks and batches, its engine computes the
step aggregates), and every step of its timeline, less the CUDA-graph launch and engine CPU time the planner
leaves out, must equal the planner's roofline for the same step, to floating-point tolerance. The grid covers a
dense GQA model, tensor parallelism, MoE, MLA (with fp8 block weights) and sliding-window attention.
"""

from __future__ import annotations

import numpy as np
import pytest

from slotune.catalog import get_gpu, get_model, load_profile
from slotune.models import EngineConfig, RequestSpec, StepSample, Workload
from slotune.plan.quantization import resolve_quantization
from slotune.plan.roofline import Roofline, decode_time, prefill_time
from slotune.plan.step_cost import Rates, StepCost, StepShape, causal_pairs, model_cost_facts, window_keys
from slotune.simulate import CostModel, Simulator
from slotune.simulate.cost_model import window_key_sums

GRID = [
    ("llama-3.1-8b", "h100", 1),  # dense, GQA
    ("llama-3.1-70b", "h100", 4),  # tensor parallelism: all-reduces
    ("qwen3-30b-a3b", "h100", 2),  # MoE: experts touched by the batch
    ("deepseek-v3", "h200", 8),  # MLA (absorbed decode, MHA prefill), MoE, fp8 block weights
    ("gemma-3-27b", "h100", 2),  # sliding window 1024 on 5 of 6 layers
    ("gpt-oss-20b", "h100", 1),  # sliding window 128, MoE, mxfp4 experts
]
MAX_MODEL_LEN = 32_768


def _engine(tp: int) -> EngineConfig:
    return EngineConfig(tensor_parallel_size=tp, max_model_len=MAX_MODEL_LEN, async_scheduling=False)


def _setup(name: str, gpu_name: str, tp: int) -> tuple[Simulator, Roofline, CostModel]:
    model, gpu = get_model(name), get_gpu(gpu_name)
    sim = Simulator(model, gpu)
    deployment = sim.deployment(_engine(tp))
    scheme = resolve_quantization(model, deployment.config.quantization)
    roof = Roofline.of(model, gpu, scheme, deployment.config, load_profile().coefficients)
    return sim, roof, sim.cost_model(deployment)


def _steps(sim: Simulator, tp: int, batch: int, prompt: int, output: int, *, fast: bool) -> list[StepSample]:
    requests = tuple(
        RequestSpec(request_id=str(i), arrival_s=0.0, prompt_tokens=prompt, output_tokens=output)
        for i in range(batch)
    )
    sim.fast_forward = fast
    steps = list(sim.run(Workload(name="guard", requests=requests), _engine(tp)).timeline)
    assert all(s.num_steps == 1 for s in steps)
    return steps


def _roofline_part(cost: CostModel, step: StepSample) -> float:
    """A simulated step less what the planner leaves out: graph launch and engine CPU time (sync scheduling)."""
    tokens = step.num_prefill_tokens + step.num_decode_tokens
    overheads = cost.launch_s(tokens, step.num_prefill_tokens == 0) + cost.cpu_s(step.num_running)
    return step.duration_s - overheads


@pytest.mark.parametrize(("name", "gpu", "tp"), GRID)
@pytest.mark.parametrize("fast", [True, False], ids=["fast-forward", "stepwise"])
def test_decode_steps_equal_the_planners_itl(name: str, gpu: str, tp: int, fast: bool) -> None:
    sim, roof, cost = _setup(name, gpu, tp)
    for batch in (1, 7, 64, 383, 600):  # 7 and 383 run padded CUDA graphs; 600 is above the largest (eager)
        prompt, output = max(8, 8192 // batch), 12  # every prompt prefilled in the first step
        steps = _steps(sim, tp, batch, prompt, output, fast=fast)
        assert steps[0].num_prefill_tokens == batch * prompt
        for k, step in enumerate(steps[1:], start=1):
            assert (step.num_prefill_tokens, step.num_decode_tokens, step.num_running) == (0, batch, batch)
            # The k-th decode step appends token prompt + k, attending to prompt + k keys.
            planned = decode_time(roof, batch, prompt + k).total_s
            assert _roofline_part(cost, step) == pytest.approx(planned, rel=1e-9), (batch, k)


@pytest.mark.parametrize(("name", "gpu", "tp"), GRID)
@pytest.mark.parametrize("prompt", [100, 20_000])  # one padded piecewise graph; three 8,192-token chunks
def test_a_lone_prefill_equals_the_planners_ttft(name: str, gpu: str, tp: int, prompt: int) -> None:
    sim, roof, cost = _setup(name, gpu, tp)
    chunk_tokens = sim.deployment(_engine(tp)).config.max_num_batched_tokens
    assert chunk_tokens is not None
    planned = prefill_time(roof, prompt, chunk_tokens=chunk_tokens)
    steps = _steps(sim, tp, 1, prompt, 2, fast=False)
    prefill_steps = [s for s in steps if s.num_prefill_tokens]
    assert len(prefill_steps) == len(planned.chunks) == -(-prompt // chunk_tokens)
    for step, chunk in zip(prefill_steps, planned.chunks, strict=True):
        assert _roofline_part(cost, step) == pytest.approx(chunk.total_s, rel=1e-9)
    simulated_ttft = sum(_roofline_part(cost, s) for s in prefill_steps)
    assert simulated_ttft == pytest.approx(planned.total_s, rel=1e-9)


def test_the_70b_tp4_decode_step_is_one_number() -> None:
    # Before one module held the terms, the planner printed 17.38 ms and the simulator took 17.57 ms here: the
    # planner assumed 100 % of the NVLink bandwidth in all-reduces, the simulator the profile's 75 %.
    _, roof, cost = _setup("llama-3.1-70b", "h100", 4)
    planned = decode_time(roof, 64, 1152).total_s
    shape = StepShape(decode_tokens=64, decode_pairs=64 * 1152, kv_tokens=64 * 1152, num_logits=64)
    assert planned == cost.step_cost.time(shape).total_s
    assert planned == pytest.approx(17.567e-3, abs=1e-6)


@pytest.mark.parametrize("window", [16, 1024])
def test_window_key_sums_match_a_direct_sum(window: int) -> None:
    rng = np.random.default_rng(window)
    keys = rng.integers(1, 2 * window, size=50)
    direct = [int(np.minimum(keys + s, window).sum()) for s in range(3 * window)]
    assert window_key_sums(keys, 3 * window, window).tolist() == direct


def test_window_aggregates_by_hand() -> None:
    # A 10-token chunk after 20 cached tokens, window 8: each of its tokens attends to 8 keys; it reads the 7
    # keys before it and writes its own 10.
    assert causal_pairs(10, 20, 8) == 80
    assert window_keys(10, 20, 8) == 17
    # Without a window: 10 x 20 + 55 pairs; 30 entries.
    assert causal_pairs(10, 20) == 255


@pytest.mark.parametrize("name", ["llama-3.1-8b", "gemma-3-27b"])
def test_prefill_attention_runs_at_its_own_rate(name: str) -> None:
    # prefill_attention_rate r: a prompt's attention FLOPs take 1/r of the time they take at the GEMMs' rate;
    # the linear layers, the LM head and decode attention keep theirs.
    model, gpu = get_model(name), get_gpu("h100")
    facts = model_cost_facts(model, resolve_quantization(model, None), "auto", 1)
    base = load_profile().coefficients
    faster = base.model_copy(update={"prefill_attention_rate": 4.0})
    one, four = (StepCost(facts, Rates.of(gpu, c, facts.compute_dtype)) for c in (base, faster))
    n = 8192
    pairs, window = causal_pairs(n, 0), causal_pairs(n, 0, model.sliding_window)
    prompt = StepShape(
        prefill_tokens=n, prefill_pairs=pairs, kv_tokens=n, num_logits=1, window_prefill_pairs=window
    )
    linear = StepShape(prefill_tokens=n, kv_tokens=n, num_logits=1)
    attention_s = one.time(prompt).compute_s - one.time(linear).compute_s
    assert attention_s > 0
    assert four.time(prompt).compute_s == pytest.approx(
        one.time(linear).compute_s + attention_s / 4, rel=1e-12
    )
    decode = StepShape(decode_tokens=64, decode_pairs=64 * 4096, kv_tokens=64 * 4096, num_logits=64)
    assert four.time(decode).compute_s == one.time(decode).compute_s
