import pydantic
import pytest

from slotune.models import EngineConfig, RequestRecord, SpeculativeConfig
from slotune.units import GiB

H100_BYTES = int(79.19 * GiB)


def test_models_are_frozen_and_reject_unknown_fields():
    cfg = EngineConfig()
    with pytest.raises(pydantic.ValidationError):
        cfg.block_size = 32  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        EngineConfig(max_num_seq=4)  # type: ignore[call-arg]  # typo of max_num_seqs


def test_vllm_defaults_depend_on_gpu_like_vllm():
    h100 = EngineConfig().resolved_for(gpu_name="H100 SXM", gpu_memory_bytes=H100_BYTES, model_max_len=131072)
    assert (h100.max_num_seqs, h100.max_num_batched_tokens, h100.max_model_len) == (1024, 8192, 131072)
    a100 = EngineConfig().resolved_for(
        gpu_name="A100 SXM 80GB", gpu_memory_bytes=H100_BYTES, model_max_len=8192
    )
    assert (a100.max_num_seqs, a100.max_num_batched_tokens) == (256, 2048)
    b200 = EngineConfig().resolved_for(gpu_name="B200", gpu_memory_bytes=180 * GiB, model_max_len=8192)
    assert b200.max_num_batched_tokens == 16384
    no_chunk = EngineConfig(enable_chunked_prefill=False).resolved_for(
        gpu_name="L4", gpu_memory_bytes=22 * GiB, model_max_len=32768
    )
    assert no_chunk.max_num_batched_tokens == 32768
    explicit = EngineConfig(max_num_seqs=8).resolved_for(
        gpu_name="H100", gpu_memory_bytes=H100_BYTES, model_max_len=4096
    )
    assert explicit.max_num_seqs == 8


def test_vllm_args_use_vllm_flag_names():
    args = EngineConfig(
        max_model_len=4096, enable_prefix_caching=False, enforce_eager=True, kv_cache_dtype="fp8"
    ).vllm_args()
    assert "--no-enable-prefix-caching" in args and "--enforce-eager" in args
    assert args[args.index("--max-model-len") + 1] == "4096"
    assert args[args.index("--kv-cache-dtype") + 1] == "fp8"


def test_speculative_config_validates_rates():
    assert SpeculativeConfig(num_speculative_tokens=3, acceptance_rates=(0.8, 0.6, 0.4)).rate_at(2) == 0.4
    with pytest.raises(pydantic.ValidationError):
        SpeculativeConfig(num_speculative_tokens=3, acceptance_rates=(0.8, 0.6))
    with pytest.raises(pydantic.ValidationError):
        SpeculativeConfig(num_speculative_tokens=1, acceptance_rates=(1.2,))


def test_record_derived_latencies():
    r = RequestRecord(
        request_id="r",
        arrival_s=1.0,
        first_token_s=1.5,
        finish_s=2.5,
        chunk_times_s=(1.5, 1.7, 2.5),
        chunk_tokens=(1, 2, 2),
        output_tokens=5,
    )
    assert r.ttft_s == pytest.approx(0.5)
    assert r.e2e_s == pytest.approx(1.5)
    assert r.tpot_s == pytest.approx(1.0 / 4)
    assert r.itls_s == pytest.approx((0.2, 0.8))
    assert r.ok
