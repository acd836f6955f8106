"""Every engine flag of a resolved configuration, written out: what `vllm serve` and vLLM's config file get.

A deployed server must not depend on defaults: vLLM picks `max_num_seqs` by GPU, `dtype` by checkpoint and
GPU, prefix caching by model, and its defaults move between releases. So every field of the resolved
configuration is rendered, booleans in both directions (`--no-enable-prefix-caching`), in EngineConfig's field
order. The only fields left out are those whose None is vLLM's own "not set" (no quantization override, no
KV-cache byte budget, vLLM's capture list, no speculative decoding), which no release changes.

vLLM's config file is not the command line: vLLM 0.25 drops a `false` boolean from the file without a word
(`FlexibleArgumentParser.load_config_file` appends `--key` for true and nothing for false), so on 0.25 a
`false` goes on the command line as `--no-key`; 0.32 turns it into `--no-key` itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from slotune.models import GpuSpec, ModelSpec, ResolvedEngineConfig, SpeculativeConfig
from slotune.models.engine_config import flag_name

# Fields whose None is vLLM's own "not set"; any other field is always rendered.
UNSET_WHEN_NONE = frozenset(
    {"quantization", "kv_cache_memory_bytes", "cudagraph_capture_sizes", "speculative_config"}
)
# Not an engine flag: the positional MODEL of `vllm serve`.
NOT_A_FLAG = frozenset({"model"})
# vLLM releases whose config-file reader keeps a `false` boolean (as --no-key).
FALSE_IN_CONFIG_FILE_SINCE = (0, 32)


def resolved_dtype(engine: ResolvedEngineConfig, model: ModelSpec, gpu: GpuSpec) -> str:
    """The dtype vLLM's `auto` picks (vllm/config/model.py `_get_and_verify_dtype`): the checkpoint's 16-bit
    type, float32 checkpoints served in bfloat16, and bfloat16 replaced by float16 on a GPU without bf16."""
    if engine.dtype != "auto":
        return engine.dtype
    checkpoint = model.torch_dtype if model.torch_dtype in ("bfloat16", "float16") else "bfloat16"
    if checkpoint == "bfloat16" and gpu.peak_flops_per_s("bf16") is None:
        return "float16"
    return checkpoint


def _speculative_json(spec: SpeculativeConfig) -> str:
    # vLLM's keys only: acceptance rates and the draft cost ratio are the simulator's.
    return json.dumps({"method": spec.method, "num_speculative_tokens": spec.num_speculative_tokens})


def flag_values(engine: ResolvedEngineConfig, dtype: str) -> dict[str, Any]:
    """Flag name (without dashes) -> value, every engine field that is rendered, in field order."""
    values: dict[str, Any] = {}
    for name in type(engine).model_fields:
        value = getattr(engine, name)
        if name in NOT_A_FLAG or (value is None and name in UNSET_WHEN_NONE):
            continue
        if name == "gpu_memory_utilization" and engine.kv_cache_memory_bytes is not None:
            continue  # vLLM sizes the cache from the byte budget and ignores the fraction
        if name == "dtype":
            value = dtype
        elif isinstance(value, SpeculativeConfig):
            value = _speculative_json(value)
        if value is None:
            raise ValueError(f"{name} is None in a resolved configuration: resolve it before rendering")
        values[flag_name(name)[2:]] = value
    return values


def _render(flag: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return [f"--{flag}" if value else f"--no-{flag}"]
    if isinstance(value, tuple | list):
        return [f"--{flag}", *(str(v) for v in value)]
    if isinstance(value, dict):
        return [f"--{flag}", json.dumps(value, separators=(",", ":"))]
    return [f"--{flag}", _scalar(value)]


def _scalar(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def buckets_flag(custom_buckets: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """`--custom-histogram-buckets` (vLLM 0.32+) as a flag value, empty when no family is changed."""
    if not custom_buckets:
        return {}
    return {"custom-histogram-buckets": {k: list(v) for k, v in sorted(custom_buckets.items())}}


def explicit_args(values: Mapping[str, Any]) -> list[str]:
    """The command-line form of `flag_values` (plus any server flags given the same way)."""
    out: list[str] = []
    for flag, value in values.items():
        out += _render(flag, value)
    return out


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def config_file(values: Mapping[str, Any], vllm_version: str) -> tuple[dict[str, Any], list[str]]:
    """vLLM's `--config` YAML mapping for these flags, and the flags that must stay on the command line because
    this vLLM's config-file reader would drop them (a `false` boolean before 0.32)."""
    keeps_false = _version_tuple(vllm_version) >= FALSE_IN_CONFIG_FILE_SINCE
    mapping: dict[str, Any] = {}
    command_line: list[str] = []
    for flag, value in values.items():
        if value is False and not keeps_false:
            command_line.append(f"--no-{flag}")
        elif isinstance(value, tuple):
            mapping[flag] = list(value)
        else:
            mapping[flag] = value
    return mapping, command_line
