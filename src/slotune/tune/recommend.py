"""The recommendation: the best point by the study's objective (measured on the real engine where it was),
written as a vLLM config file (`vllm serve --config FILE`) and a command line with every flag explicit, so
nothing is left to a default that differs between vLLM versions or GPUs.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

import yaml

from slotune.catalog import get_gpu, get_model
from slotune.models import ResolvedEngineConfig
from slotune.models.tune import Recommendation, TunePoint
from slotune.tune.objectives import ObjectiveKind, rank_key
from slotune.vllm_rules import resolve_engine_config

# The serving rate a recommendation is sized for, as a share of its capacity: headroom for bursts beyond the
# load the study measured.
SERVING_SHARE = 0.9


def explicit_flags(config: ResolvedEngineConfig) -> dict[str, Any]:
    """Every engine flag slotune models, under vLLM's own names (YAML keys of `vllm serve --config`)."""
    flags: dict[str, Any] = {
        "max-model-len": config.max_model_len,
        "max-num-seqs": config.max_num_seqs,
        "max-num-batched-tokens": config.max_num_batched_tokens,
        "block-size": config.block_size,
    }
    if config.kv_cache_memory_bytes is not None:
        flags["kv-cache-memory-bytes"] = config.kv_cache_memory_bytes
    else:
        flags["gpu-memory-utilization"] = config.gpu_memory_utilization
    flags |= {
        "enable-prefix-caching": config.enable_prefix_caching,
        "enable-chunked-prefill": config.enable_chunked_prefill,
        "enforce-eager": config.enforce_eager,
        "async-scheduling": config.async_scheduling,
        "dtype": config.dtype,
        "kv-cache-dtype": config.kv_cache_dtype,
        "tensor-parallel-size": config.tensor_parallel_size,
        "pipeline-parallel-size": config.pipeline_parallel_size,
    }
    if config.quantization:
        flags["quantization"] = config.quantization
    if config.speculative_config is not None:
        spec = config.speculative_config
        flags["speculative-config"] = {
            "method": spec.method,
            "num_speculative_tokens": spec.num_speculative_tokens,
        }
    return flags


def command_line(model: str, flags: dict[str, Any]) -> str:
    """`vllm serve MODEL --flag value ...`; booleans as --flag / --no-flag (both exist in vLLM 0.25-0.32)."""
    args = ["vllm", "serve", model]
    for name, value in flags.items():
        if isinstance(value, bool):
            args.append(f"--{name}" if value else f"--no-{name}")
        elif isinstance(value, dict):
            args += [f"--{name}", json.dumps(value)]
        else:
            args += [f"--{name}", str(value)]
    return shlex.join(args)


def resolved_config(point: TunePoint) -> ResolvedEngineConfig:
    model, gpu = get_model(point.candidate.model), get_gpu(point.candidate.gpu)
    return resolve_engine_config(model, gpu, point.engine_config)


def recommend(
    points: Sequence[TunePoint],
    kind: ObjectiveKind,
    *,
    measured: dict[str, TunePoint] | None = None,
    served_model: str | None = None,
    reasons: Sequence[str] = (),
) -> Recommendation | None:
    """The best of `points` by `rank_key`; where `measured` (keyed like the points' configurations) holds
    real-engine measurements, only measured points compete and their measurements rank them: a simulated
    capacity the engine never confirmed must not beat one it did (the simulation errs high as often as low)."""
    from slotune.tune.space import point_key

    measured = measured or {}

    def ranked(point: TunePoint) -> TunePoint:
        return measured.get(point_key(point.candidate, point.engine_config), point)

    usable = [p for p in points if p.pruned is None and ranked(p).objectives is not None]
    if measured:  # a real engine measured some: an unconfirmed simulation must not outrank a measurement
        usable = [p for p in usable if point_key(p.candidate, p.engine_config) in measured]
    if not usable:
        return None
    best = min(usable, key=lambda p: rank_key(ranked(p), kind))
    real = measured.get(point_key(best.candidate, best.engine_config))
    flags = explicit_flags(resolved_config(best))
    model = served_model or best.candidate.model
    basis = real if real is not None else best
    capacity = basis.capacity.max_rate_rps if basis.capacity is not None else 0.0
    serving = capacity * SERVING_SHARE
    return Recommendation(
        point=best,
        measured=real,
        vllm_yaml=yaml.safe_dump({"model": model, **flags}, sort_keys=False),
        command_line=command_line(model, flags),
        serving_rate_rps=serving if capacity > 0 else None,
        margin=1.0 - SERVING_SHARE if capacity > 0 else None,
        reasons=tuple(reasons),
    )
