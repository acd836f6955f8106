"""Every engine flag is rendered explicitly, and vLLM's config file is written the way each version reads it."""

from __future__ import annotations

import pytest
import yaml
from deploy_helpers import make_deployment

from slotune.catalog import get_gpu, get_model
from slotune.deploy.flags import (
    NOT_A_FLAG,
    UNSET_WHEN_NONE,
    config_file,
    explicit_args,
    flag_values,
    resolved_dtype,
)
from slotune.models import EngineConfig, ResolvedEngineConfig
from slotune.models.engine_config import flag_name
from slotune.vllm_rules import resolve_engine_config


def _resolved(**fields: object) -> ResolvedEngineConfig:
    return resolve_engine_config(get_model("llama-3.1-8b"), get_gpu("h100"), EngineConfig(**fields))  # type: ignore[arg-type]


def test_every_field_is_rendered_or_is_a_documented_unset() -> None:
    """A new EngineConfig field shows up in deployments without editing the renderer (or this test fails)."""
    values = flag_values(_resolved(), "bfloat16")
    for name in EngineConfig.model_fields:
        if name in NOT_A_FLAG:
            continue
        assert flag_name(name)[2:] in values or name in UNSET_WHEN_NONE, name


def test_defaults_that_move_with_hardware_are_pinned() -> None:
    args = explicit_args(flag_values(_resolved(), "bfloat16"))
    # H100: vLLM's own 1024 / 8192 / bf16, written out so an A100 or a new release cannot change them.
    assert args[args.index("--max-num-seqs") + 1] == "1024"
    assert args[args.index("--max-num-batched-tokens") + 1] == "8192"
    assert args[args.index("--max-model-len") + 1] == "131072"
    for both_ways in (
        "--enable-prefix-caching",
        "--enable-chunked-prefill",
        "--no-enforce-eager",
        "--async-scheduling",
    ):
        assert both_ways in args
    off = explicit_args(flag_values(_resolved(enable_prefix_caching=False, enforce_eager=True), "bfloat16"))
    assert "--no-enable-prefix-caching" in off and "--enforce-eager" in off


def test_a_kv_cache_byte_budget_replaces_the_memory_fraction() -> None:
    args = explicit_args(flag_values(_resolved(kv_cache_memory_bytes="8G"), "bfloat16"))
    assert "--kv-cache-memory-bytes" in args and "--gpu-memory-utilization" not in args


def test_speculative_decoding_keeps_only_vllms_keys() -> None:
    spec = {"method": "ngram", "num_speculative_tokens": 3, "acceptance_rates": [0.5]}
    args = explicit_args(flag_values(_resolved(speculative_config=spec), "bfloat16"))
    assert args[args.index("--speculative-config") + 1] == '{"method": "ngram", "num_speculative_tokens": 3}'


@pytest.mark.parametrize(
    ("gpu", "checkpoint", "expected"), [("h100", "bfloat16", "bfloat16"), ("h100", "float32", "bfloat16")]
)
def test_auto_dtype_is_resolved(gpu: str, checkpoint: str, expected: str) -> None:
    model = get_model("llama-3.1-8b").model_copy(update={"torch_dtype": checkpoint})
    assert resolved_dtype(_resolved(), model, get_gpu(gpu)) == expected
    assert resolved_dtype(_resolved(dtype="float16"), model, get_gpu(gpu)) == "float16"


def test_vllm_025_drops_false_from_its_config_file_so_it_goes_on_the_command_line() -> None:
    values = flag_values(_resolved(enable_prefix_caching=False), "bfloat16")
    mapping_025, command_025 = config_file(values, "0.25.0")
    assert "enable-prefix-caching" not in mapping_025
    assert "--no-enable-prefix-caching" in command_025 and "--no-enforce-eager" in command_025
    mapping_032, command_032 = config_file(values, "0.32.0")
    assert mapping_032["enable-prefix-caching"] is False and command_032 == []


def test_the_rendered_config_file_serve_script_carries_the_false_flags() -> None:
    from slotune.deploy.writer import target_files

    files = target_files(make_deployment(vllm_version="0.25.0"), "vllm-config")
    assert "--no-enforce-eager" in files["serve.sh"]
    assert "enforce-eager" not in yaml.safe_load(files["vllm-config.yaml"])
