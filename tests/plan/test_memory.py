"""Weight and KV bytes, each formula checked against values computed by hand in the comments."""

from __future__ import annotations

import pytest

from slotune.catalog import get_model
from slotune.errors import InputError
from slotune.plan.kv import kv_bytes_for_sequence, kv_bytes_per_token
from slotune.plan.memory import activation_peak_bytes, rotary_cache_bytes, weight_bytes
from slotune.plan.params import active_params_per_token, matmul_params_per_token, total_params
from slotune.units import GiB

# Llama-3.1-8B, by hand:
#   embed = lm_head = 128256 x 4096 = 525,336,576
#   per layer: q 4096x4096 + k 1024x4096 + v 1024x4096 + o 4096x4096 = 41,943,040
#              mlp 3 x 4096 x 14336 = 176,160,768; norms 2 x 4096 = 8,192  -> 218,112,000
#   32 layers = 6,979,584,000; + final norm 4,096 + 2 x 525,336,576 = 8,030,261,248
LLAMA_8B_PARAMS = 8_030_261_248


def test_llama_8b_parameters_from_the_architecture() -> None:
    assert total_params(get_model("llama-3.1-8b")) == LLAMA_8B_PARAMS


def test_llama_8b_bf16_weight_bytes_are_two_per_parameter() -> None:
    assert weight_bytes(get_model("llama-3.1-8b"), "bf16") == 2 * LLAMA_8B_PARAMS


def test_llama_8b_loaded_size_matches_vllm_log() -> None:
    # vLLM logs "Model loading took 14.9888 GiB" for Llama-3.1-8B: weights + the bf16 rotary cos/sin cache
    # (131072 positions x 128 x 2 bytes = 33,554,432).
    model = get_model("llama-3.1-8b")
    assert rotary_cache_bytes(model) == 131072 * 128 * 2
    assert (weight_bytes(model, "bf16") + rotary_cache_bytes(model)) / GiB == pytest.approx(14.9888, abs=5e-5)


def test_llama_8b_kv_bytes_per_token() -> None:
    # 2 (K and V) x 8 KV heads x 128 head_dim x 2 bytes x 32 layers = 131,072
    model = get_model("llama-3.1-8b")
    assert kv_bytes_per_token(model, "auto") == 131_072
    assert kv_bytes_per_token(model, "fp8") == 65_536
    # TP=2 splits the 8 KV heads, TP=16 cannot split past one head per rank.
    assert kv_bytes_per_token(model, "auto", tensor_parallel_size=2) == 65_536
    assert kv_bytes_per_token(model, "auto", tensor_parallel_size=16) == 131_072 // 8


def test_deepseek_v3_mla_kv_bytes_have_no_factor_two() -> None:
    # (kv_lora_rank 512 + qk_rope_head_dim 64) x 61 layers x 2 bytes = 70,272; MLA's latent is not split by TP.
    model = get_model("deepseek-v3")
    assert kv_bytes_per_token(model, "auto") == 70_272
    assert kv_bytes_per_token(model, "auto", tensor_parallel_size=8) == 70_272
    assert kv_bytes_per_token(model, "fp8") == 576 * 61


def test_deepseek_v3_total_and_active_parameters() -> None:
    # attention per layer: q_a 7168x1536 + 1536 + q_b 1536x(128x192) + kv_a 7168x576 + 512 + kv_b 512x(128x256)
    #   + o (128x128)x7168 = 187,107,328; norms 14,336 -> 61 layers = 11,414,421,504
    # dense MLP (3 layers) 3 x 3 x 7168 x 18432 = 1,189,085,184
    # MoE layer (58): 257 experts x 3 x 7168 x 2048 + router 256 x 7168 + bias 256 = 11,320,164,608
    # embed + lm_head 2 x 129280 x 7168 = 1,853,358,080; final norm 7,168
    model = get_model("deepseek-v3")
    assert total_params(model) == 671_026_419_200
    # active: 8 routed + 1 shared expert + router per MoE layer: 58 x 398,196,992 = 23,095,425,536
    #   + attention 11,414,421,504 + dense 1,189,085,184 + embed and lm_head 1,853,358,080 + final norm 7,168
    assert active_params_per_token(model) == 37_552_297_472
    assert model.total_params is not None and total_params(model) == pytest.approx(
        model.total_params, rel=1e-3
    )


def test_qwen3_moe_total_and_active_parameters_match_the_model_card() -> None:
    # Qwen3-30B-A3B: 48 layers of 128 experts (3 x 2048 x 768 each), 8 active; "30.5B total, 3.3B activated".
    model = get_model("qwen3-30b-a3b")
    experts_per_layer = 128 * 3 * 2048 * 768
    assert experts_per_layer == 603_979_776
    assert total_params(model) == pytest.approx(30.5e9, rel=2e-3)
    assert active_params_per_token(model) == pytest.approx(3.3e9, rel=2e-2)
    assert total_params(model) - active_params_per_token(model) == 48 * 120 * 3 * 2048 * 768


def test_mixtral_total_and_active_parameters() -> None:
    # 46.7B total, 12.9B per token (2 of 8 experts of 3 x 4096 x 14336)
    model = get_model("mixtral-8x7b")
    assert total_params(model) == 46_702_792_704
    assert total_params(model) - active_params_per_token(model) == 32 * 6 * 3 * 4096 * 14336


def test_gpt_oss_active_count_excludes_the_embedding_like_the_card() -> None:
    model = get_model("gpt-oss-120b")
    assert total_params(model) == 116_829_156_672
    assert matmul_params_per_token(model) == pytest.approx(5.13e9, rel=2e-3)


def test_tied_embeddings_are_counted_once() -> None:
    # Llama-3.2-1B: 16 layers x (q 2048x2048 + k,v 512x2048 + o 2048x2048 + mlp 3x2048x8192 + 2x2048)
    #   = 16 x 60,821,504 = 973,144,064; + embed 128256 x 2048 = 262,668,288 (shared with lm_head) + 2,048
    model = get_model("llama-3.2-1b")
    assert total_params(model) == 1_235_814_400
    assert matmul_params_per_token(model) == total_params(model)  # the table is used once, as lm_head


def test_quantized_weight_bytes() -> None:
    model = get_model("llama-3.1-8b")
    unquantized = 2 * 2 * 525_336_576 + 2 * (32 * 2 * 4096 + 4096)  # embed + lm_head + norms stay bf16
    linear = 32 * (41_943_040 + 176_160_768)
    # fp8: 1 byte per linear weight + a 4-byte scale per output row (7 matrices x rows per layer)
    rows_per_layer = 4096 + 1024 + 1024 + 4096 + 14336 + 14336 + 4096
    assert weight_bytes(model, "fp8") == unquantized + linear + 32 * rows_per_layer * 4
    # AWQ: 4 bits + (16-bit scale + 4-bit zero) per 128 inputs = 4.15625 bits per linear weight
    assert weight_bytes(model, "awq") == unquantized + linear * 4.15625 / 8


def test_gguf_sizes_match_published_files() -> None:
    # Meta-Llama-3.1-8B-Instruct GGUF files (bartowski): Q8_0 8.54 GB, Q4_K_M 4.92 GB, Q2_K 3.18 GB; the files
    # also carry ~8 MB of tokenizer metadata.
    model = get_model("llama-3.1-8b")
    assert weight_bytes(model, "Q8_0") / 1e9 == pytest.approx(8.54, abs=0.015)
    assert weight_bytes(model, "Q4_K_M") / 1e9 == pytest.approx(4.92, abs=0.015)
    assert weight_bytes(model, "Q2_K") / 1e9 == pytest.approx(3.18, abs=0.015)


def test_gpt_oss_mxfp4_checkpoint_size() -> None:
    # Experts: 4 bits + an 8-bit scale per 32 = 4.25 bits; attention, router, embeddings, biases bf16. The
    # published checkpoints are ~65.3 GB (120b) and ~13.8 GB (20b).
    assert weight_bytes(get_model("gpt-oss-120b"), None) / 1e9 == pytest.approx(65.25, abs=0.1)
    assert weight_bytes(get_model("gpt-oss-20b"), None) / 1e9 == pytest.approx(13.76, abs=0.1)


def test_mxfp4_on_a_dense_model_is_an_input_error() -> None:
    with pytest.raises(InputError, match="experts"):
        weight_bytes(get_model("llama-3.1-8b"), "mxfp4")


def test_tensor_parallel_weights_split_except_replicated_parts() -> None:
    model = get_model("llama-3.1-8b")
    per_gpu = weight_bytes(model, "bf16", tensor_parallel_size=2)
    replicated_norms = 2 * (32 * 2 * 4096 + 4096)
    assert per_gpu == (weight_bytes(model, "bf16") - replicated_norms) / 2 + replicated_norms


def test_sliding_window_layers_hold_at_most_the_window() -> None:
    model = get_model("gpt-oss-20b")  # 12 full + 12 sliding (window 128) layers, 8 KV heads x 64 x 2 bytes
    per_layer = 2 * 8 * 64 * 2
    assert kv_bytes_per_token(model, "auto") == 24 * per_layer
    long = kv_bytes_for_sequence(model, "auto", 100_000, in_flight_tokens=2048)
    full = 12 * (100_000 // 16) * 16 * per_layer
    sliding = 12 * ((-(-(128 - 1 + 2048) // 16)) + 1) * 16 * per_layer
    assert long == full + sliding


def test_activation_peak_matches_vllm_log_for_llama_8b_on_h100() -> None:
    # vLLM logs "PyTorch activation peak memory takes 1.19-1.24GiB" for Llama-3.1-8B at 8192 batched tokens and
    # 1024 sequences: the sampler's 1024 x 128256 logits dominate.
    peak = activation_peak_bytes(get_model("llama-3.1-8b"), max_num_batched_tokens=8192, max_num_seqs=1024)
    assert 1.15 * GiB < peak < 1.30 * GiB
