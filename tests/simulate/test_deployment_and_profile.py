from __future__ import annotations

from pathlib import Path

import pytest
from sim_helpers import workload

from slotune.catalog import get_gpu, get_model, load_profile, write_profile
from slotune.errors import InputError
from slotune.models import EngineConfig
from slotune.plan import plan_capacity
from slotune.simulate import Simulator, build_deployment


def test_profile_round_trip_and_override(tmp_path: Path, model, gpu, facts) -> None:
    base = load_profile()
    fitted = base.model_copy(
        update={
            "name": "fitted",
            "version": "2",
            "coefficients": base.coefficients.model_copy(update={"mem_bw_efficiency": 0.4}),
        }
    )
    path = tmp_path / "fitted.yaml"
    write_profile(fitted, path)
    assert load_profile(path) == fitted
    wl = workload([(0.0, 200, 50)])
    slow = Simulator(model, gpu, profile=path, facts=facts, num_gpu_blocks=5000).run(
        wl, EngineConfig(max_model_len=4096)
    )
    fast = Simulator(model, gpu, facts=facts, num_gpu_blocks=5000).run(wl, EngineConfig(max_model_len=4096))
    assert slow.provenance.extra["profile"] == "fitted@2"
    # Half the bandwidth efficiency: memory-bound decode steps take about twice as long.
    ratio = slow.records[0].tpot_s / fast.records[0].tpot_s  # type: ignore[operator]
    assert 1.7 < ratio < 2.1


def test_llama_on_h100_uses_the_planners_numbers() -> None:
    model, gpu = get_model("llama-3.1-8b"), get_gpu("h100")
    deployment = build_deployment(model, gpu, EngineConfig())
    config = deployment.config
    # vLLM defaults on an H100: 1024 sequences, 8192 batched tokens, the model's full context.
    assert (config.max_num_seqs, config.max_num_batched_tokens, config.max_model_len) == (1024, 8192, 131072)
    plan = plan_capacity(model, gpu, EngineConfig())
    assert deployment.num_gpu_blocks == plan.kv.capacity_blocks
    facts = deployment.facts
    assert facts.kv_bytes_per_token == 32 * 2 * 8 * 128 * 2
    # Everything but the input embedding is streamed per step: ~8.03e9 params x 2 B minus 128256 x 4096 x 2 B.
    assert facts.dense_weight_bytes == pytest.approx(16.06e9 - 1.05e9, rel=0.01)
    assert facts.attn_flops_per_pair == 4 * 32 * 128 * 32
    tp2 = build_deployment(model, gpu, EngineConfig(tensor_parallel_size=2)).facts
    assert tp2.kv_bytes_per_token == facts.kv_bytes_per_token / 2
    assert tp2.dense_weight_bytes == pytest.approx(facts.dense_weight_bytes / 2, rel=0.01)


def test_moe_facts_split_routed_experts() -> None:
    facts = build_deployment(
        get_model("qwen3-30b-a3b"), get_gpu("h100"), EngineConfig(max_model_len=32768)
    ).facts
    assert facts.num_experts == 128 and facts.experts_per_token == 8
    assert facts.expert_weight_bytes > 10 * facts.dense_weight_bytes


def test_what_vllm_refuses_to_start_with_is_an_input_error() -> None:
    model, gpu = get_model("llama-3.1-8b"), get_gpu("h100")
    with pytest.raises(InputError, match="max_model_len=131072"):
        build_deployment(model, gpu, EngineConfig(kv_cache_memory_bytes=100 * 1024**2))  # 800 tokens of KV
    with pytest.raises(InputError, match="kv cache"):  # a KV pool given directly is checked the same way
        build_deployment(model, gpu, EngineConfig(max_model_len=4096), num_gpu_blocks=256)
    with pytest.raises(InputError, match="pipeline_parallel_size"):
        build_deployment(model, gpu, EngineConfig(pipeline_parallel_size=2))
    with pytest.raises(InputError, match="max_model_len"):
        build_deployment(model, gpu, EngineConfig(max_model_len=200_000))
    with pytest.raises(InputError):
        build_deployment(get_model("llama-3.1-70b"), get_gpu("l4"), EngineConfig())  # weights do not fit
