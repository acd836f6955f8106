"""Invariants of the planning math over random architectures (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slotune.catalog import get_gpu
from slotune.catalog.hf_config import model_spec_from_config
from slotune.models import EngineConfig, ModelSpec
from slotune.plan import kv_bytes_per_token, plan_capacity, weight_bytes
from slotune.plan.planner import valid_tp_sizes
from slotune.units import GiB


@st.composite
def models(draw: st.DrawFn) -> ModelSpec:
    kv_heads = draw(st.sampled_from([1, 2, 4, 8, 16]))
    heads = kv_heads * draw(st.sampled_from([1, 2, 4, 8]))
    head_dim = draw(st.sampled_from([64, 128, 256]))
    layers = draw(st.integers(min_value=1, max_value=48))
    config: dict = {
        "hidden_size": heads * head_dim,
        "head_dim": head_dim,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "num_hidden_layers": layers,
        "intermediate_size": draw(st.integers(min_value=1, max_value=64)) * 256,
        "vocab_size": draw(st.integers(min_value=1000, max_value=200_000)),
        "max_position_embeddings": draw(st.sampled_from([4096, 32768, 131072])),
        "tie_word_embeddings": draw(st.booleans()),
    }
    if draw(st.booleans()):
        config |= {"num_local_experts": 8, "num_experts_per_tok": 2}
    if layers >= 2 and draw(st.booleans()):
        config |= {"sliding_window": draw(st.sampled_from([128, 1024, 4096])), "sliding_window_pattern": 2}
    if draw(st.booleans()):
        config |= {"kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128}
    return model_spec_from_config(config, name="random")


@settings(max_examples=40, deadline=None)
@given(model=models(), extra_gib=st.floats(min_value=0.0, max_value=100.0))
def test_more_memory_never_lowers_capacity(model: ModelSpec, extra_gib: float) -> None:
    gpu = get_gpu("a100-40gb")
    bigger = gpu.model_copy(update={"memory_bytes": gpu.memory_bytes + int(extra_gib * GiB)})
    engine = EngineConfig(max_model_len=2048, max_num_seqs=64, max_num_batched_tokens=2048)
    small = plan_capacity(model, gpu, engine)
    large = plan_capacity(model, bigger, engine)
    assert large.kv.capacity_blocks >= small.kv.capacity_blocks
    assert large.kv.capacity_tokens >= small.kv.capacity_tokens
    assert large.kv.max_concurrency >= small.kv.max_concurrency
    assert large.fits or not small.fits


@settings(max_examples=40, deadline=None)
@given(
    model=models(),
    low=st.floats(min_value=0.3, max_value=0.95),
    step=st.floats(min_value=0.0, max_value=0.05),
)
def test_higher_utilization_never_lowers_capacity(model: ModelSpec, low: float, step: float) -> None:
    gpu = get_gpu("l40s")
    lo = plan_capacity(model, gpu, EngineConfig(gpu_memory_utilization=low, max_model_len=2048))
    hi = plan_capacity(
        model, gpu, EngineConfig(gpu_memory_utilization=min(1.0, low + step), max_model_len=2048)
    )
    assert hi.kv.capacity_blocks >= lo.kv.capacity_blocks


@settings(max_examples=40, deadline=None)
@given(model=models())
def test_min_tp_divides_the_heads(model: ModelSpec) -> None:
    plan = plan_capacity(model, get_gpu("l4"), EngineConfig(max_model_len=4096))
    if plan.verdict.min_tp:
        assert model.num_attention_heads % plan.verdict.min_tp == 0
        assert plan.verdict.min_tp in valid_tp_sizes(model)
        if model.mla is None:
            assert (
                model.num_kv_heads % plan.verdict.min_tp == 0 or plan.verdict.min_tp % model.num_kv_heads == 0
            )


@settings(max_examples=60, deadline=None)
@given(model=models(), tp=st.sampled_from([1, 2, 4, 8]))
def test_fp8_kv_halves_bf16_kv(model: ModelSpec, tp: int) -> None:
    bf16 = kv_bytes_per_token(model, "auto", tensor_parallel_size=tp)
    assert kv_bytes_per_token(model, "fp8", tensor_parallel_size=tp) * 2 == bf16
    assert kv_bytes_per_token(model, "bfloat16", tensor_parallel_size=tp) == bf16


@settings(max_examples=40, deadline=None)
@given(model=models())
def test_fewer_bits_never_more_bytes(model: ModelSpec) -> None:
    # vLLM schemes keep embeddings/lm_head in bf16; GGUF quantizes them too, so the two families are ordered
    # separately.
    assert weight_bytes(model, "bf16") > weight_bytes(model, "fp8") > weight_bytes(model, "awq")
    gguf = [weight_bytes(model, q) for q in ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")]
    assert gguf == sorted(gguf, reverse=True)
    assert weight_bytes(model, "bf16") > gguf[0]
