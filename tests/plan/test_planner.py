"""plan_capacity end to end: vLLM V1's KV accounting by hand, fits/does-not-fit as data, min TP, SLO checks."""

from __future__ import annotations

import math

import pytest

from slotune.catalog import get_gpu, get_model, load_profile
from slotune.errors import InputError
from slotune.models import EngineConfig, RequestSpec, Workload
from slotune.plan import plan_capacity
from slotune.plan.memory import CUDA_GRAPH_BYTES, NCCL_BYTES_PER_GPU, NON_TORCH_BYTES_SINGLE_GPU
from slotune.slo import parse_slo
from slotune.units import GiB

H100_TOTAL_BYTES = 85_017_493_504  # torch.cuda.mem_get_info on an H100 80GB HBM3


def test_llama_8b_bf16_on_h100_acceptance_numbers() -> None:
    plan = plan_capacity(get_model("llama-3.1-8b"), get_gpu("h100"), EngineConfig())
    assert plan.fits and plan.verdict.reasons == ()
    assert plan.kv.bytes_per_token == 131_072
    assert plan.weights.bytes == 2 * 8_030_261_248
    assert plan.weights.total_params == 8_030_261_248
    assert plan.verdict.min_tp == 1
    # vLLM's H100 defaults: 8192 batched tokens, 1024 sequences, 0.92 utilization, full context.
    assert (plan.engine.max_num_batched_tokens, plan.engine.max_num_seqs, plan.engine.max_model_len) == (
        8192,
        1024,
        131_072,
    )


def test_llama_8b_kv_capacity_by_hand() -> None:
    plan = plan_capacity(get_model("llama-3.1-8b"), get_gpu("h100"), EngineConfig())
    assert plan.memory.activation_peak_bytes is not None
    # available = total x 0.92 - (weights + rotary cache + activation peak + non-torch + CUDA graphs)
    rotary = 131_072 * 128 * 2
    available = math.floor(
        H100_TOTAL_BYTES * 0.92
        - (
            2 * 8_030_261_248
            + rotary
            + plan.memory.activation_peak_bytes
            + NON_TORCH_BYTES_SINGLE_GPU
            + CUDA_GRAPH_BYTES
        )
    )
    assert plan.memory.kv_cache_bytes == available
    # one block = 16 tokens x 4,096 B per token per layer x 32 layers = 2 MiB
    assert plan.kv.capacity_blocks == available // (16 * 4096 * 32)
    assert plan.kv.capacity_tokens == plan.kv.capacity_blocks * 16
    # a 131,072-token request takes 8,192 blocks
    assert plan.kv.max_concurrency == pytest.approx(plan.kv.capacity_blocks / 8192)
    # ~55.9 GiB of KV cache: vLLM logs ~54.6 GiB at utilization 0.90 on the same card
    assert 55.5 * GiB < available < 56.3 * GiB


def test_kv_cache_memory_bytes_overrides_the_budget() -> None:
    engine = EngineConfig(kv_cache_memory_bytes=10 * GiB)
    plan = plan_capacity(get_model("llama-3.1-8b"), get_gpu("h100"), engine)
    assert plan.memory.kv_cache_bytes == 10 * GiB
    assert plan.kv.capacity_blocks == 10 * GiB // (2 * 1024 * 1024)


def test_a_model_that_does_not_fit_is_a_plan_with_reasons() -> None:
    plan = plan_capacity(get_model("llama-3.1-70b"), get_gpu("h100"), EngineConfig())
    assert not plan.fits
    assert plan.kv.capacity_tokens == 0 and plan.kv.max_concurrency == 0
    assert any("exceed the budget" in r for r in plan.verdict.reasons)
    assert plan.verdict.min_tp == 4  # 2 GPUs hold the weights but not one 131k-token request
    assert plan.throughput.output_tokens_per_s is None and plan.cost.usd_per_mtok is None


def test_context_too_long_for_the_kv_cache_names_the_longest_that_fits() -> None:
    engine = EngineConfig(tensor_parallel_size=2)
    plan = plan_capacity(get_model("llama-3.1-70b"), get_gpu("h100"), engine)
    assert not plan.fits
    (reason,) = plan.verdict.reasons
    assert "cannot hold one request of max_model_len=131072" in reason
    longest = int(reason.split("the longest that fits is ")[1].split(" ")[0])
    assert 0 < longest < 131_072
    shorter = plan_capacity(
        get_model("llama-3.1-70b"), get_gpu("h100"), engine.model_copy(update={"max_model_len": longest})
    )
    assert shorter.fits


def test_min_tp_drops_with_a_shorter_context() -> None:
    engine = EngineConfig(max_model_len=8192, tensor_parallel_size=2)
    plan = plan_capacity(get_model("llama-3.1-70b"), get_gpu("h100"), engine)
    assert plan.fits and plan.verdict.min_tp == 2
    assert plan.memory.non_torch_bytes == NON_TORCH_BYTES_SINGLE_GPU + NCCL_BYTES_PER_GPU


def test_deepseek_v3_mla_uses_64_token_blocks_and_unsplit_latent() -> None:
    plan = plan_capacity(get_model("deepseek-v3"), get_gpu("h200"), EngineConfig(tensor_parallel_size=8))
    assert plan.fits
    assert plan.kv.block_size == 64
    assert plan.quantization == "fp8-block"  # the checkpoint's own
    assert plan.kv.bytes_per_token == plan.kv.bytes_per_token_per_gpu == 70_272
    # one block: 64 tokens x 1,152 B per token per layer x 61 layers
    assert plan.kv.capacity_blocks == plan.memory.kv_cache_bytes // (64 * 1152 * 61)


@pytest.mark.parametrize(("version", "in_flight"), [("0.25.0", 8192), ("0.32.0", 2 * 8192)])
def test_gemma_3_hybrid_groups_follow_vllm(version: str, in_flight: int) -> None:
    # 62 layers: 10 global + 52 sliding. Group size 10 -> 1 full group + 6 sliding groups; a block holds one
    # page for each of the 10 layers of a group, and every group takes its blocks from the one pool.
    profile = load_profile().model_copy(update={"vllm_version": version})
    config = EngineConfig(max_model_len=32768)
    plan = plan_capacity(get_model("gemma-3-27b"), get_gpu("h100"), config, profile=profile)
    page = 16 * 2 * 16 * 128 * 2
    assert plan.memory.kv_cache_bytes is not None
    assert plan.kv.capacity_blocks == plan.memory.kv_cache_bytes // (page * 10)
    # One 32k request: 2,048 blocks in the full group + 6 x (cdiv(1023 + in-flight tokens, 16) + 1) in the sliding
    # groups (SlidingWindowSpec.max_admission_blocks_per_request: 0.25 one step of 8,192 tokens, 0.32
    # max_in_flight_tokens, two steps with async scheduling).
    per_request = 2048 + 6 * (math.ceil((1023 + in_flight) / 16) + 1)
    assert plan.kv.max_concurrency == pytest.approx(plan.kv.capacity_blocks / per_request)
    # kv_cache_utils.get_kv_cache_capacity: "GPU KV cache size" = int(max concurrency x max_model_len).
    assert plan.kv.capacity_tokens == int(plan.kv.capacity_blocks / per_request * 32768)


def test_workload_lengths_drive_latency_and_concurrency() -> None:
    requests = tuple(
        RequestSpec(request_id=str(i), arrival_s=i * 0.1, prompt_tokens=p, output_tokens=100)
        for i, p in enumerate([100] * 98 + [4000, 8000])
    )
    workload = Workload(name="two-long", requests=requests)
    plan = plan_capacity(get_model("llama-3.1-8b"), get_gpu("h100"), EngineConfig(), workload=workload)
    assert plan.latency.prompt_tokens_p50 == 100
    assert plan.latency.prompt_tokens_p99 == round(4000 + 0.01 * 4000)  # numpy's linear interpolation: 4,040
    assert (
        plan.latency.ttft_p99_s is not None
        and plan.latency.ttft_p50_s is not None
        and plan.latency.ttft_p99_s > plan.latency.ttft_p50_s
    )
    mean_request = 100 * 0.98 + 40 + 80 + 100
    assert plan.throughput.mean_prompt_tokens == pytest.approx(mean_request - 100)
    blocks_per_request = math.ceil(math.ceil(mean_request) / 16)
    assert plan.kv.max_concurrency_at_workload == pytest.approx(plan.kv.capacity_blocks / blocks_per_request)
    assert not any("no workload" in n for n in plan.verdict.notes)


def test_an_unreachable_slo_is_reported_not_raised() -> None:
    slo = parse_slo("ttft:p99<1ms")
    plan = plan_capacity(get_model("llama-3.1-8b"), get_gpu("h100"), EngineConfig(), slo=slo)
    assert plan.fits and plan.verdict.meets_slo is False
    assert any("cannot be met" in r for r in plan.verdict.reasons)


def test_itl_target_caps_the_throughput_batch() -> None:
    free = plan_capacity(get_model("llama-3.1-8b"), get_gpu("h100"), EngineConfig())
    capped = plan_capacity(
        get_model("llama-3.1-8b"), get_gpu("h100"), EngineConfig(), slo=parse_slo("itl:p99<10ms")
    )
    assert capped.verdict.meets_slo is True
    assert capped.throughput.batch_size is not None and free.throughput.batch_size is not None
    assert capped.throughput.batch_size < free.throughput.batch_size
    assert (
        capped.throughput.output_tokens_per_s is not None and free.throughput.output_tokens_per_s is not None
    )
    assert capped.throughput.output_tokens_per_s < free.throughput.output_tokens_per_s


def test_every_reported_number_has_a_derivation() -> None:
    plan = plan_capacity(get_model("qwen3-30b-a3b"), get_gpu("h100"), EngineConfig(), quantization="fp8")
    names = {d.name for d in plan.derivations}
    for required in (
        "total_params", "active_params", "weights_bytes", "kv_bytes_per_token", "kv_cache_bytes",
        "kv_capacity_blocks", "kv_capacity_tokens", "max_concurrency", "min_tp", "ttft_p50_s", "ttft_p99_s",
        "crossover_batch_size", "max_output_tokens_per_s", "usd_per_mtok", "itl_batch_1_s",
    ):  # fmt: skip
        assert required in names, required
    for d in plan.derivations:
        assert d.formula and d.inputs, d.name
    weights = next(d for d in plan.derivations if d.name == "weights_bytes")
    assert weights.value == plan.weights.bytes and weights.inputs["quantization"] == "fp8"


@pytest.mark.parametrize(
    ("engine", "field"),
    [
        (EngineConfig(tensor_parallel_size=3), "tensor_parallel_size"),
        (EngineConfig(max_model_len=200_000), "max_model_len"),
    ],
)
def test_impossible_flags_raise_input_error(engine: EngineConfig, field: str) -> None:
    with pytest.raises(InputError) as err:
        plan_capacity(get_model("llama-3.1-8b"), get_gpu("h100"), engine)
    assert err.value.field == field


def test_kv_heads_replicate_past_tp_eight() -> None:
    # Llama-3.1-405B has 8 KV heads: at TP 16 each rank still holds one head.
    plan = plan_capacity(
        get_model("llama-3.1-405b"),
        get_gpu("h200"),
        EngineConfig(tensor_parallel_size=16, max_model_len=8192),
    )
    assert plan.kv.bytes_per_token_per_gpu == 2 * 1 * 128 * 126 * 2
    assert any("exceeds the 8 GPUs" in r for r in plan.verdict.reasons) and not plan.fits
