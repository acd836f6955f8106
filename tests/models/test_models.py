import pydantic
import pytest

from slotune.models import EngineConfig, RequestRecord, SpeculativeConfig


def test_models_are_frozen_and_reject_unknown_fields():
    cfg = EngineConfig()
    with pytest.raises(pydantic.ValidationError):
        cfg.block_size = 32  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        EngineConfig(max_num_seq=4)  # type: ignore[call-arg]  # typo of max_num_seqs


def test_token_counts_parse_as_vllm_human_readable_int():
    # vllm/utils/argparse_utils.py human_readable_int: lowercase suffixes are decimal, uppercase binary.
    cfg = EngineConfig.model_validate({"max_model_len": "32k", "max_num_batched_tokens": "2K"})
    assert (cfg.max_model_len, cfg.max_num_batched_tokens) == (32_000, 2_048)
    assert EngineConfig.model_validate({"max_model_len": "25.6k"}).max_model_len == 25_600
    assert EngineConfig.model_validate({"kv_cache_memory_bytes": "8G"}).kv_cache_memory_bytes == 8 * 2**30
    with pytest.raises(pydantic.ValidationError, match=r"did you mean 1\.5k"):
        EngineConfig.model_validate({"max_model_len": "1.5K"})  # no decimals with binary suffixes
    with pytest.raises(pydantic.ValidationError, match="not modelled"):
        EngineConfig.model_validate({"max_model_len": "auto"})  # vLLM's auto-fit to memory
    with pytest.raises(pydantic.ValidationError, match="greater than 0"):
        EngineConfig.model_validate({"max_num_batched_tokens": "-1"})  # -1 means auto for max_model_len only


def test_list_and_json_flags_parse_from_text():
    cfg = EngineConfig.model_validate(
        {
            "cudagraph_capture_sizes": "1,2 4",
            "speculative_config": '{"method": "ngram", "num_speculative_tokens": 2, "prompt_lookup_max": 4}',
        }
    )
    assert cfg.cudagraph_capture_sizes == (1, 2, 4)
    assert cfg.speculative_config == SpeculativeConfig(method="ngram", num_speculative_tokens=2)
    args = cfg.vllm_args()
    assert args[
        args.index("--cudagraph-capture-sizes") + 1 : args.index("--cudagraph-capture-sizes") + 4
    ] == [
        "1",
        "2",
        "4",
    ]


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
