"""`--explain` cannot drift: each formula's text is written from the constants and coefficients its value uses."""

from __future__ import annotations

import pytest

from slotune.catalog import get_gpu, get_model, load_profile
from slotune.models import CapacityPlan, Derivation, EngineConfig
from slotune.plan import memory, plan_capacity, step_cost
from slotune.plan.explain import explain_lines
from slotune.units import GiB


def _plan(**engine: object) -> CapacityPlan:
    config = EngineConfig(max_model_len=8192, **engine)  # type: ignore[arg-type]
    return plan_capacity(get_model("llama-3.1-70b"), get_gpu("h100"), config)


def _derivation(plan: CapacityPlan, name: str) -> Derivation:
    return next(d for d in plan.derivations if d.name == name)


def test_memory_constants_show_in_their_formulas(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _plan(tensor_parallel_size=2)
    assert "0.25 GiB (+0.5 GiB NCCL buffers when tp > 1)" in _derivation(before, "non_torch_bytes").formula
    assert "0.5 GiB unless --enforce-eager" in _derivation(before, "cuda_graph_bytes").formula
    monkeypatch.setattr(memory, "NON_TORCH_BYTES_SINGLE_GPU", int(0.375 * GiB))
    monkeypatch.setattr(memory, "NCCL_BYTES_PER_GPU", int(0.625 * GiB))
    monkeypatch.setattr(memory, "CUDA_GRAPH_BYTES", int(0.75 * GiB))
    monkeypatch.setattr(memory, "SAMPLER_BYTES_PER_LOGIT", 12)
    after = _plan(tensor_parallel_size=2)
    non_torch = _derivation(after, "non_torch_bytes")
    assert non_torch.formula == "0.375 GiB (+0.625 GiB NCCL buffers when tp > 1)"
    assert non_torch.value == after.memory.non_torch_bytes == int(0.375 * GiB) + int(0.625 * GiB)
    graphs = _derivation(after, "cuda_graph_bytes")
    assert graphs.formula == "0.75 GiB unless --enforce-eager"
    assert graphs.value == after.memory.cuda_graph_bytes == int(0.75 * GiB)
    assert "vocab x 12 B" in _derivation(after, "activation_peak_bytes").formula
    assert after.memory.kv_cache_bytes < before.memory.kv_cache_bytes


def test_step_cost_constants_show_in_the_latency_formulas(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _plan(tensor_parallel_size=4)
    assert "2 x layers x (allreduce_latency" in _derivation(before, "itl_batch_1_s").formula
    assert "hidden x 2 B" in _derivation(before, "ttft_p50_s").formula
    monkeypatch.setattr(step_cost, "ALLREDUCES_PER_LAYER", 3)
    monkeypatch.setattr(step_cost, "ACTIVATION_BYTES", 1.0)
    after = _plan(tensor_parallel_size=4)
    for name in ("itl_batch_1_s", "ttft_p50_s"):
        formula = _derivation(after, name).formula
        assert "3 x layers x (allreduce_latency" in formula and "hidden x 1 B" in formula
    assert after.latency.itl_by_batch_s[1] != before.latency.itl_by_batch_s[1]


def test_profile_coefficients_are_the_latency_inputs() -> None:
    base = load_profile()
    slow_links = base.model_copy(
        update={
            "version": "test",
            "coefficients": base.coefficients.model_copy(update={"interconnect_efficiency": 0.5}),
        }
    )
    model, gpu = get_model("llama-3.1-70b"), get_gpu("h100")
    config = EngineConfig(max_model_len=8192, tensor_parallel_size=4)
    plan = plan_capacity(model, gpu, config, profile=slow_links)
    default = plan_capacity(model, gpu, config)
    itl = _derivation(plan, "itl_batch_64_s")
    assert itl.inputs["interconnect_efficiency"] == 0.5 and itl.value == plan.latency.itl_by_batch_s[64]
    assert _derivation(default, "itl_batch_64_s").inputs["interconnect_efficiency"] == 0.75
    assert plan.latency.itl_by_batch_s[64] > default.latency.itl_by_batch_s[64]
    assert (plan.profile, default.profile) == ("default@test", "default@1")


def test_every_derivation_value_is_the_plans_number() -> None:
    plan = _plan(tensor_parallel_size=4)
    numbers = {
        "weights_bytes": plan.weights.bytes,
        "weights_bytes_per_gpu": plan.memory.weights_bytes,
        "kv_cache_bytes": plan.memory.kv_cache_bytes,
        "kv_capacity_blocks": plan.kv.capacity_blocks,
        "min_tp": plan.verdict.min_tp,
        "ttft_p99_s": plan.latency.ttft_p99_s,
        "max_output_tokens_per_s": plan.throughput.output_tokens_per_s,
        "usd_per_mtok": plan.cost.usd_per_mtok,
    }
    for name, number in numbers.items():
        assert _derivation(plan, name).value == pytest.approx(number), name
    assert [line[0] for line in explain_lines(plan)] == [d.name for d in plan.derivations]
