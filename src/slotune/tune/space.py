"""The search space: vLLM's flags in the seed's priority tiers, and the deployment candidates the user gives.

Tier 1 (the seed's strongest latency levers): max_model_len, enforce_eager, enable_prefix_caching.
Tier 2 (latency vs throughput): gpu_memory_utilization, max_num_seqs, enable_chunked_prefill,
max_num_batched_tokens. Tier 3 (small gains): dtype, kv_cache_dtype. Tier 0 holds the candidates: GPU type,
quantization, layout (tensor-parallel size x replicas) and speculative decoding, searched only where the user
gives more than one. A dimension outside the searched tiers keeps the seed's recommended value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from slotune.errors import InputError
from slotune.models import EngineConfig, ModelSpec, Workload
from slotune.models.tune import Candidate, ParamValue

ENGINE_TIERS: dict[str, int] = {
    "max_model_len": 1,
    "enforce_eager": 1,
    "enable_prefix_caching": 1,
    "gpu_memory_utilization": 2,
    "max_num_seqs": 2,
    "enable_chunked_prefill": 2,
    "max_num_batched_tokens": 2,
    "dtype": 3,
    "kv_cache_dtype": 3,
}
CANDIDATE_DIMENSIONS = ("gpu", "quantization", "layout", "speculative")
DEFAULT_CHOICES: dict[str, tuple[ParamValue, ...]] = {
    "enforce_eager": (False, True),
    "enable_prefix_caching": (True, False),
    "gpu_memory_utilization": (0.85, 0.9, 0.92, 0.95),
    "max_num_seqs": (16, 32, 64, 128, 256, 512, 1024),
    "enable_chunked_prefill": (True, False),
    "max_num_batched_tokens": (256, 512, 1024, 2048, 4096, 8192, 16384),
    "dtype": ("auto",),
    "kv_cache_dtype": ("auto", "fp8"),
}
# The seed's advice (section 3, phase 3, and the "vLLM configured by guesswork" anti-pattern): a context
# length the workload needs and no more, CUDA graphs on, prefix caching on, chunked prefill on, memory
# utilization below 1.0 with headroom; everything else at vLLM's defaults.
SEED_SETTINGS: dict[str, ParamValue] = {
    "enforce_eager": False,
    "enable_prefix_caching": True,
    "enable_chunked_prefill": True,
    "gpu_memory_utilization": 0.9,
}
MAX_MODEL_LEN_MARGIN = 1.25
MAX_MODEL_LEN_STEP = 1024


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    tier: int  # 0: a deployment candidate; 1-3: the seed's priority tiers of engine flags
    choices: tuple[ParamValue, ...]


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """The dimensions searched, and the values of the ones that are not (the seed's settings)."""

    dimensions: tuple[Dimension, ...]
    fixed: dict[str, ParamValue] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def choices(self) -> dict[str, tuple[ParamValue, ...]]:
        return {d.name: d.choices for d in self.dimensions}

    def size(self) -> int:
        return math.prod(len(d.choices) for d in self.dimensions)


def _round_up(tokens: float, step: int = MAX_MODEL_LEN_STEP) -> int:
    return int(math.ceil(tokens / step) * step)


def workload_lengths(workload: Workload) -> tuple[int, int]:
    """(p99, max) of prompt + output tokens over the workload's requests."""
    totals = sorted(r.prompt_tokens + r.output_tokens for r in workload.requests)
    if not totals:
        raise InputError("--workload", workload.name, "give a workload with at least one request")
    p99 = totals[min(len(totals) - 1, math.ceil(0.99 * len(totals)) - 1)]
    return p99, totals[-1]


def max_model_len_choices(workload: Workload, model: ModelSpec) -> tuple[int, ...]:
    """The workload's p99 total length with a 25% margin, its longest request, and the model's own context:
    each rounded up to a multiple of 1,024 and never past the model's context."""
    p99, longest = workload_lengths(workload)
    limit = model.max_position_embeddings
    values = {min(limit, _round_up(p99 * MAX_MODEL_LEN_MARGIN)), min(limit, _round_up(longest)), limit}
    return tuple(sorted(values))


def seed_max_model_len(workload: Workload, model: ModelSpec) -> int:
    """The seed's length: the shortest that holds every request of the workload (none is refused)."""
    _, longest = workload_lengths(workload)
    return min(model.max_position_embeddings, _round_up(longest))


def seed_settings(workload: Workload, model: ModelSpec) -> dict[str, ParamValue]:
    return {**SEED_SETTINGS, "max_model_len": seed_max_model_len(workload, model)}


def parse_space_overrides(items: Sequence[str]) -> dict[str, tuple[ParamValue, ...]]:
    """`--space max_num_seqs=64,128,256` (repeatable): the choices of one dimension."""
    out: dict[str, tuple[ParamValue, ...]] = {}
    known = (*ENGINE_TIERS, *CANDIDATE_DIMENSIONS)
    for item in items:
        name, eq, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or name not in ENGINE_TIERS:
            raise InputError(
                "--space",
                item,
                f"write NAME=V1,V2 with NAME one of {', '.join(ENGINE_TIERS)} (candidates have flags of "
                f"their own: --gpu, --quantization, --num-gpus, --speculative; all: {', '.join(known)})",
            )
        parsed = tuple(_parse_value(name, v.strip()) for v in values.split(",") if v.strip())
        if not parsed:
            raise InputError("--space", item, f"give at least one value for {name}")
        out[name] = parsed
    return out


def _parse_value(name: str, text: str) -> ParamValue:
    default = DEFAULT_CHOICES.get(name, (0,))[0]
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "on", "off", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "on", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError as exc:
        raise InputError(
            "--space", f"{name}={text}", f"give {type(default).__name__} values for {name}"
        ) from exc
    return text


def layouts(num_gpus: Sequence[int], tp_sizes: Sequence[int]) -> tuple[str, ...]:
    """`TxR` layouts: N GPUs as tensor-parallel groups of T, R = N / T replicas, for every valid T."""
    out: list[str] = []
    for n in num_gpus:
        for tp in tp_sizes:
            if n % tp == 0 and f"{tp}x{n // tp}" not in out:
                out.append(f"{tp}x{n // tp}")
    if not out:
        raise InputError(
            "--num-gpus",
            ",".join(map(str, num_gpus)),
            f"give GPU counts divisible by a tensor-parallel size the model allows ({tp_sizes})",
        )
    return tuple(out)


def parse_layout(layout: str) -> tuple[int, int]:
    tp, _, replicas = layout.partition("x")
    return int(tp), int(replicas)


def build_space(
    *,
    workload: Workload,
    model: ModelSpec,
    gpus: Sequence[str],
    quantizations: Sequence[str | None],
    layout_choices: Sequence[str],
    speculative: Sequence[str | None],
    tiers: Sequence[int],
    overrides: Mapping[str, tuple[ParamValue, ...]],
) -> SearchSpace:
    """The dimensions in tier order (candidates first), each with its choices. A flag not searched (its tier left
    out, or one choice) takes the value given with --space, else the seed's setting, else vLLM's default."""
    for tier in tiers:
        if tier not in (1, 2, 3):
            raise InputError("--tiers", tier, "use tiers 1, 2 and/or 3, e.g. --tiers 1,2")
    seed = seed_settings(workload, model)
    choices: dict[str, tuple[ParamValue, ...]] = {
        "gpu": tuple(gpus),
        "quantization": tuple(quantizations),
        "layout": tuple(layout_choices),
        "speculative": tuple(speculative),
        **DEFAULT_CHOICES,
        "max_model_len": max_model_len_choices(workload, model),
        **overrides,
    }
    dims: list[Dimension] = []
    fixed: dict[str, ParamValue] = {}
    for name, values in choices.items():
        tier = ENGINE_TIERS.get(name, 0)
        if (tier == 0 or tier in tiers) and len(values) > 1:
            dims.append(Dimension(name, tier, values))
        elif tier == 0 or name in overrides:
            fixed[name] = values[0]
        elif name in seed:
            fixed[name] = seed[name]
    order = [*CANDIDATE_DIMENSIONS, *ENGINE_TIERS]
    dims.sort(key=lambda d: (d.tier, order.index(d.name)))
    return SearchSpace(tuple(dims), fixed)


ENGINE_FIELDS = tuple(ENGINE_TIERS)


def to_point(
    params: Mapping[str, ParamValue], *, model: str, base: EngineConfig
) -> tuple[Candidate, EngineConfig]:
    """The candidate and engine flags of one set of parameters (candidate keys and engine fields); the base
    config's other flags (given on the command line) are kept."""
    tp, replicas = parse_layout(str(params.get("layout") or "1x1"))
    speculative = params.get("speculative")
    quantization = params.get("quantization")
    candidate = Candidate(
        model=model,
        quantization=None if quantization in (None, "") else str(quantization),
        gpu=str(params["gpu"]),
        tensor_parallel_size=tp,
        replicas=replicas,
        speculative=None if speculative in (None, "") else str(speculative),
    )
    values = base.model_dump(exclude_unset=True)
    values.update({k: v for k, v in params.items() if k in ENGINE_FIELDS})
    values["tensor_parallel_size"] = tp
    if candidate.quantization is not None:
        values["quantization"] = candidate.quantization
    if candidate.speculative is not None:
        values["speculative_config"] = candidate.speculative
    return candidate, EngineConfig.model_validate(values)


def point_key(candidate: Candidate, config: EngineConfig) -> str:
    """One string per distinct configuration: two trials with the same key are the same experiment."""
    return json.dumps(
        {"candidate": candidate.model_dump(mode="json"), "engine": config.model_dump(mode="json")},
        sort_keys=True,
    )
