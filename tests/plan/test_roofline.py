"""Roofline formulas against hand computations."""

from __future__ import annotations

import pytest

from slotune.catalog import get_gpu, get_model
from slotune.plan.cost import usd_per_mtok
from slotune.plan.memory import weight_bytes_by_role
from slotune.plan.quantization import get_scheme
from slotune.plan.roofline import (
    ALLREDUCE_LATENCY_S,
    Hardware,
    WeightBytes,
    allreduce_s,
    crossover_batch_size,
    decode_time,
    expected_experts_touched,
    prefill_flops,
    prefill_time,
)

LLAMA_8B_MATMUL_PARAMS = 8_030_261_248 - 525_336_576  # everything but the input embedding table


def _llama() -> tuple:
    model = get_model("llama-3.1-8b")
    hw = Hardware.of(get_gpu("h100"), "bf16", 1)
    weights = WeightBytes.of(model, weight_bytes_by_role(model, get_scheme("bf16")))
    return model, hw, weights


def test_prefill_flops_by_hand() -> None:
    model, _, _ = _llama()
    # 2 FLOPs per matmul parameter per token + causal attention: token i attends to i keys;
    # QK^T and PV cost 2 x head_dim each per key and head -> 2 x (1024 x 1025 / 2) x 32 heads x 256 x 32 layers.
    expected = 2 * LLAMA_8B_MATMUL_PARAMS * 1024 + 2 * (1024 * 1025 // 2) * 32 * 256 * 32
    assert prefill_flops(model, 1024) == pytest.approx(expected)


def test_prefill_chunks_continue_the_causal_context() -> None:
    model, _, _ = _llama()
    whole = prefill_flops(model, 4096)
    chunks = prefill_flops(model, 2048) + prefill_flops(model, 2048, cached_tokens=2048)
    assert chunks == pytest.approx(whole)


def test_ttft_is_compute_bound_for_a_1k_prompt_on_h100() -> None:
    model, hw, weights = _llama()
    step = prefill_time(model, 1024, weights, hw, chunk_tokens=8192)
    assert step.is_compute_bound
    assert step.compute_s == pytest.approx(prefill_flops(model, 1024) / (989e12 * 0.45))
    # weights streamed once: everything except the gathered embedding table, at 3.35 TB/s x 0.8
    assert step.memory_s == pytest.approx((2 * LLAMA_8B_MATMUL_PARAMS) / (3.35e12 * 0.8))


def test_decode_itl_at_batch_one_is_memory_bound_weights_plus_kv() -> None:
    model, hw, weights = _llama()
    step = decode_time(model, 1, 1000, weights, "auto", hw)
    assert not step.is_compute_bound
    expected_bytes = 2 * LLAMA_8B_MATMUL_PARAMS + 1000 * 131_072
    assert step.memory_s == pytest.approx(expected_bytes / (3.35e12 * 0.8))
    assert step.comm_s == 0.0


def test_crossover_is_the_gpu_ops_per_byte_ratio_for_dense_bf16() -> None:
    model, hw, weights = _llama()
    # compute(B) = 2 x P x B / (989e12 x 0.30); memory = 2 x P / (3.35e12 x 0.8) (bf16: 2 bytes per parameter)
    # -> B* = 989e12 x 0.30 / (3.35e12 x 0.8) = 110.7 -> 111
    assert crossover_batch_size(model, weights, hw) == 111


def test_fp8_kv_halves_decode_kv_traffic() -> None:
    model, hw, weights = _llama()
    bf16 = decode_time(model, 64, 4000, weights, "auto", hw).memory_s
    fp8 = decode_time(model, 64, 4000, weights, "fp8", hw).memory_s
    kv_bf16 = 64 * 4000 * 131_072 / (3.35e12 * 0.8)
    assert bf16 - fp8 == pytest.approx(kv_bf16 / 2)


def test_moe_decode_reads_only_touched_experts() -> None:
    # 128 experts, 8 per token: one token touches 8; a large batch touches nearly all.
    assert expected_experts_touched(128, 8, 1) == pytest.approx(8)
    assert expected_experts_touched(128, 8, 1000) == pytest.approx(128, rel=1e-3)
    model = get_model("qwen3-30b-a3b")
    hw = Hardware.of(get_gpu("h100"), "bf16", 1)
    weights = WeightBytes.of(model, weight_bytes_by_role(model, get_scheme("bf16")))
    one = decode_time(model, 1, 100, weights, "auto", hw).memory_s
    many = decode_time(model, 512, 100, weights, "auto", hw).memory_s
    assert one < 0.2 * many


def test_gpt_oss_streams_4_bit_experts_and_bf16_attention() -> None:
    model = get_model("gpt-oss-120b")
    weights = WeightBytes.of(model, weight_bytes_by_role(model, get_scheme("mxfp4")))
    # routed experts: 36 layers x 128 x (2880 x 5760 + 2880 x 2880) weights at 4.25 bits
    assert weights.routed_expert == pytest.approx(36 * 128 * (2880 * 5760 + 2880 * 2880) * 4.25 / 8)
    # the embedding table is gathered, not streamed
    assert weights.not_streamed == 201_088 * 2880 * 2


def test_tensor_parallel_all_reduce_cost() -> None:
    model = get_model("llama-3.1-70b")
    hw = Hardware.of(get_gpu("h100"), "bf16", 4)
    # 2 all-reduces per layer x 80 layers; each moves 2 x 3/4 of 128 tokens x 8192 x 2 B over 450 GB/s
    per_op = ALLREDUCE_LATENCY_S + 2 * 3 / 4 * 128 * 8192 * 2 / 450e9
    assert allreduce_s(128, model, hw) == pytest.approx(160 * per_op)


def test_usd_per_mtok() -> None:
    # $4.76 per GPU-hour x 2 GPUs at 5,000 tok/s: 9.52 / 18e6 tokens x 1e6 = $0.5289 per million
    assert usd_per_mtok(4.76, 2, 5000) == pytest.approx(9.52 / 18.0)
    assert usd_per_mtok(4.76, 1, 0) == float("inf")


def test_gpus_without_fp8_tensor_cores_compute_in_bf16() -> None:
    hw = Hardware.of(get_gpu("a100-80gb"), "fp8", 1)
    assert hw.flops_per_s == pytest.approx(312e12)
