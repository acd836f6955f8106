"""Roofline formulas against hand computations."""

from __future__ import annotations

import pytest

from slotune.catalog import get_gpu, get_model, load_profile
from slotune.models import EngineConfig
from slotune.plan.cost import usd_per_mtok
from slotune.plan.quantization import get_scheme
from slotune.plan.roofline import (
    Roofline,
    crossover_batch_size,
    decode_time,
    prefill_time,
    steady_output_tokens_per_s,
)
from slotune.plan.step_cost import causal_pairs, decode_shape, expected_experts_touched, model_cost_facts
from slotune.vllm_rules import resolve_engine_config

LLAMA_8B_MATMUL_PARAMS = 8_030_261_248 - 525_336_576  # everything but the input embedding table
LLAMA_8B_LM_HEAD = 128_256 * 4096
H100_BF16, H100_HBM = 989e12, 3.35e12


def roofline(
    model: str = "llama-3.1-8b", gpu: str = "h100", quant: str = "bf16", **engine: object
) -> Roofline:
    spec, card = get_model(model), get_gpu(gpu)
    config = resolve_engine_config(spec, card, EngineConfig(**engine))  # type: ignore[arg-type]
    return Roofline.of(spec, card, get_scheme(quant), config, load_profile().coefficients)


def test_prefill_flops_by_hand() -> None:
    roof = roofline()
    # 2 FLOPs per matmul parameter per prompt token, the LM head only for the one row the chunk samples, and
    # causal attention: token i attends to i keys; QK^T and PV cost 2 x head_dim each per key and head.
    pairs = 1024 * 1025 // 2
    assert causal_pairs(1024, 0) == pairs
    prefill_flops = 2 * (LLAMA_8B_MATMUL_PARAMS - LLAMA_8B_LM_HEAD) * 1024 + 2 * pairs * 32 * 256 * 32
    step = prefill_time(roof, 1024, chunk_tokens=8192)
    assert step.is_compute_bound
    expected = prefill_flops / (H100_BF16 * 0.45) + 2 * LLAMA_8B_LM_HEAD / (H100_BF16 * 0.30)
    assert step.chunks[0].compute_s == pytest.approx(expected)
    # weights streamed once (everything except the gathered embedding table) + the prompt's KV written
    assert step.chunks[0].memory_s == pytest.approx(
        (2 * LLAMA_8B_MATMUL_PARAMS + 1024 * 131_072) / (H100_HBM * 0.8)
    )


@pytest.mark.parametrize("window", [None, 1000, 5000])
def test_prefill_chunks_continue_the_causal_context(window: int | None) -> None:
    assert causal_pairs(2048, 0, window) + causal_pairs(2048, 2048, window) == causal_pairs(4096, 0, window)
    if window is not None:
        # past the window every token attends to exactly `window` keys
        assert causal_pairs(100, 10_000, window) == 100 * window


def test_a_long_prompt_is_one_step_per_chunk() -> None:
    roof = roofline()
    step = prefill_time(roof, 20_000, chunk_tokens=8192)
    assert len(step.chunks) == 3
    assert step.total_s == pytest.approx(sum(c.total_s for c in step.chunks))
    # later chunks attend to more context: each takes longer than the one before
    assert step.chunks[0].compute_s < step.chunks[1].compute_s


def test_decode_itl_at_batch_one_is_memory_bound_weights_plus_kv() -> None:
    roof = roofline()
    step = decode_time(roof, 1, 1000)
    assert not step.is_compute_bound
    expected_bytes = 2 * LLAMA_8B_MATMUL_PARAMS + 1000 * 131_072
    assert step.memory_s == pytest.approx(expected_bytes / (H100_HBM * 0.8))
    assert step.comm_s == 0.0


def test_a_batch_between_capture_sizes_computes_the_padded_graph() -> None:
    roof = roofline()
    assert roof.graphs.padded(383) == 384
    padded = decode_time(roof, 383, 100)
    exact = roof.cost.time(decode_shape(383, 100, None))  # no padding
    assert padded.compute_s - exact.compute_s == pytest.approx(
        roof.cost.linear_flops_per_token / (H100_BF16 * 0.30)
    )
    eager = roofline(enforce_eager=True)
    assert decode_time(eager, 383, 100).compute_s == pytest.approx(exact.compute_s)


def test_crossover_is_the_gpu_ops_per_byte_ratio_for_dense_bf16() -> None:
    roof = roofline()
    # compute(B) = 2 x P x B / (989e12 x 0.30); memory = 2 x P / (3.35e12 x 0.8) (bf16: 2 bytes per parameter)
    # -> B* = 989e12 x 0.30 / (3.35e12 x 0.8) = 110.7 -> 111
    assert crossover_batch_size(roof.cost) == 111


def test_fp8_kv_halves_decode_kv_traffic() -> None:
    bf16 = decode_time(roofline(), 64, 4000).memory_s
    fp8 = decode_time(roofline(kv_cache_dtype="fp8"), 64, 4000).memory_s
    kv_bf16 = 64 * 4000 * 131_072 / (H100_HBM * 0.8)
    assert bf16 - fp8 == pytest.approx(kv_bf16 / 2)


def test_sliding_layers_read_only_their_window() -> None:
    roof = roofline("gemma-3-27b", max_model_len=32768)
    facts = roof.cost.facts
    assert facts.sliding_window == 1024
    # 62 layers: 10 global and 52 local, 16 KV heads x 128 x 2 B x 2 (K and V) each
    assert facts.kv_bytes_per_token == 10 * 2 * 16 * 128 * 2
    assert facts.window_kv_bytes_per_token == 52 * 2 * 16 * 128 * 2
    short, long = decode_time(roof, 1, 1000), decode_time(roof, 1, 30_000)
    extra = (30_000 - 1000) * facts.kv_bytes_per_token + (1024 - 1000) * facts.window_kv_bytes_per_token
    assert long.memory_s - short.memory_s == pytest.approx(extra / (roof.cost.bytes_per_s))


def test_moe_decode_reads_only_touched_experts() -> None:
    # 128 experts, 8 per token: one token touches 8; a large batch touches nearly all.
    assert expected_experts_touched(128, 8, 1) == pytest.approx(8)
    assert expected_experts_touched(128, 8, 1000) == pytest.approx(128, rel=1e-3)
    roof = roofline("qwen3-30b-a3b")
    one = decode_time(roof, 1, 100).memory_s
    many = decode_time(roof, 512, 100).memory_s
    assert one < 0.2 * many


def test_gpt_oss_streams_4_bit_experts_and_bf16_attention() -> None:
    model = get_model("gpt-oss-120b")
    facts = model_cost_facts(model, get_scheme("mxfp4"), "auto", 1)
    # routed experts: 36 layers x 128 x (2880 x 5760 + 2880 x 2880) weights at 4.25 bits
    assert facts.expert_weight_bytes == pytest.approx(
        36 * 128 * (2880 * 5760 + 2880 * 2880) * 4.25 / 8, rel=1e-3
    )
    # the embedding table is gathered, not streamed; the untied lm_head is streamed
    assert facts.lm_head_flops_per_logit == 2 * 201_088 * 2880


def test_tensor_parallel_all_reduce_cost() -> None:
    roof = roofline("llama-3.1-70b", tensor_parallel_size=4)
    profile = load_profile().coefficients
    # 2 all-reduces per layer x 80 layers; each moves 2 x 3/4 of 128 tokens x 8192 x 2 B over 450 GB/s x 0.75
    per_op = profile.allreduce_latency_s + 2 * 3 / 4 * 128 * 8192 * 2 / (
        450e9 * profile.interconnect_efficiency
    )
    assert decode_time(roof, 128, 100).comm_s == pytest.approx(160 * per_op)


def test_steady_state_prefills_the_replacement_prompts() -> None:
    roof = roofline()
    tps, step = steady_output_tokens_per_s(roof, 64, 1024, 256)
    plain = decode_time(roof, 64, 1024 + 128)
    assert step.compute_s > plain.compute_s  # 64 / 256 prompts of 1,024 tokens per step ride along
    assert tps == pytest.approx(64 / step.total_s)


def test_usd_per_mtok() -> None:
    # $4.76 per GPU-hour x 2 GPUs at 5,000 tok/s: 9.52 / 18e6 tokens x 1e6 = $0.5289 per million
    assert usd_per_mtok(4.76, 2, 5000) == pytest.approx(9.52 / 18.0)
    assert usd_per_mtok(4.76, 1, 0) == float("inf")


def test_gpus_without_fp8_tensor_cores_compute_in_bf16() -> None:
    roof = roofline(gpu="a100-80gb", quant="fp8")
    assert roof.cost.rates.peak_flops_per_s == pytest.approx(312e12)
