"""Phase 1: a CapacityPlan composed from the pure formulas, each number with the derivation its formula gives.

A configuration that does not fit is a plan with verdict.fits False and its reasons; only impossible inputs (a TP
size that does not divide the heads, a context longer than the model's) raise InputError. Latencies use the
hardware profile's coefficients, the same the simulator's cost model uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slotune.catalog.hardware_profiles import load_profile
from slotune.catalog.prices import missing_price, price_for, require_price
from slotune.errors import InputError
from slotune.models import (
    SLO,
    CapacityPlan,
    CostReport,
    EngineConfig,
    GpuSpec,
    HardwareProfile,
    KvPlan,
    LatencyPlan,
    ModelSpec,
    PlanEngine,
    PlanRanking,
    PriceBook,
    PriceUsed,
    RankBy,
    ResolvedEngineConfig,
    ThroughputPlan,
    Verdict,
    WeightsPlan,
    Workload,
)
from slotune.plan.budget import Memory, derive_min_tp, memory, misfit_reasons
from slotune.plan.cost import plan_cost
from slotune.plan.derivation import Explain
from slotune.plan.kv import (
    derive_kv_bytes_per_token,
    derive_kv_bytes_per_token_per_gpu,
    derive_max_concurrency,
)
from slotune.plan.memory import derive_weights_bytes
from slotune.plan.params import derive_active_params, derive_total_params
from slotune.plan.quantization import QuantScheme, resolve_quantization
from slotune.plan.roofline import (
    Roofline,
    best_throughput,
    derive_crossover,
    derive_itl,
    derive_max_output_tokens_per_s,
    derive_ttft,
)
from slotune.plan.step_cost import compute_dtype_on
from slotune.plan.tensor_parallel import TP_SIZES, tp_problem, valid_tp_sizes
from slotune.vllm_rules import effective_block_size, resolve_engine_config
from slotune.vllm_versions import VllmBehaviour, vllm_behaviour

__all__ = [
    "default_quantizations",
    "effective_block_size",
    "plan_capacity",
    "rank_options",
    "throughput_per_gpu",
    "tp_problem",
    "valid_tp_sizes",
]

# Lengths assumed without a workload: a 1k-token prompt and a 256-token answer.
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Lengths:
    prompt_p50: int
    prompt_p99: int
    mean_prompt: float
    mean_output: float
    from_workload: bool


def lengths_of(workload: Workload | None) -> Lengths:
    if workload is None or not workload.requests:
        return Lengths(
            DEFAULT_PROMPT_TOKENS, DEFAULT_PROMPT_TOKENS, DEFAULT_PROMPT_TOKENS, DEFAULT_OUTPUT_TOKENS, False
        )
    from slotune.workload import analyze  # the workload package is optional at import time

    stats = analyze(workload)
    return Lengths(
        prompt_p50=max(1, round(stats.prompt_tokens.require("p50"))),
        prompt_p99=max(1, round(stats.prompt_tokens.require("p99"))),
        mean_prompt=stats.prompt_tokens.require("mean"),
        mean_output=stats.output_tokens.require("mean"),
        from_workload=True,
    )


def _check_inputs(model: ModelSpec, engine: EngineConfig) -> None:
    tp = engine.tensor_parallel_size
    problem = tp_problem(model, tp)
    if problem is not None:
        raise InputError(
            "tensor_parallel_size",
            tp,
            f"use one of {', '.join(map(str, valid_tp_sizes(model)))} for {model.name}",
            problem=problem,
        )


def plan_capacity(
    model: ModelSpec,
    gpu: GpuSpec,
    engine_config: EngineConfig,
    *,
    quantization: str | None = None,
    workload: Workload | None = None,
    slo: SLO | None = None,
    profile: HardwareProfile | None = None,
    prices: PriceBook | None = None,
) -> CapacityPlan:
    """Napkin math for one model x GPU x engine configuration (see docs/plan.md for every formula).

    `profile`: the hardware profile whose coefficients the latencies use (the built-in default when None).
    `prices`: the user's GPU prices (the catalog's first dated price where they give none). A GPU without any
    price plans without a cost, unless the SLO has a cost target: then it is an InputError.
    """
    _check_inputs(model, engine_config)
    scheme = resolve_quantization(model, quantization or engine_config.quantization)
    price = (
        require_price(gpu, prices, "the SLO has a cost target")
        if _has_cost_target(slo)
        else price_for(gpu, prices)
    )
    return _plan(
        model, gpu, engine_config, scheme, lengths_of(workload), slo, profile or load_profile(), price
    )


def _has_cost_target(slo: SLO | None) -> bool:
    return slo is not None and any(t.metric == "cost" for t in slo.targets)


def _plan(
    model: ModelSpec,
    gpu: GpuSpec,
    engine_config: EngineConfig,
    scheme: QuantScheme,
    lengths: Lengths,
    slo: SLO | None,
    profile: HardwareProfile,
    price: PriceUsed | None,
) -> CapacityPlan:
    behaviour = vllm_behaviour(profile.vllm_version)
    engine = resolve_engine_config(model, gpu, engine_config, behaviour)
    tp = engine.tensor_parallel_size
    ex = Explain()
    notes: list[str] = []
    weights = _weights(model, gpu, scheme, ex, notes)
    kv_sizes = (
        ex.take(derive_kv_bytes_per_token(model, engine.kv_cache_dtype)),
        ex.take(derive_kv_bytes_per_token_per_gpu(model, engine.kv_cache_dtype, tp)),
    )
    mem = memory(model, gpu, engine, scheme, ex, behaviour)
    verdict = _verdict(model, gpu, engine, scheme, mem, ex, notes, behaviour)
    kv = _kv(engine, mem, kv_sizes, lengths, verdict.fits, ex)
    roof = Roofline.of(model, gpu, scheme, engine, profile.coefficients, behaviour)
    latency = _latency(roof, engine, lengths, kv, verdict.fits, ex, notes)
    itl_limit = _slo_threshold(slo, ("itl", "tpot"))
    throughput = _throughput(roof, latency, lengths, itl_limit, verdict.fits, ex)
    cost = _cost(gpu, price, tp, throughput, ex, notes)
    slo_reasons = _slo_reasons(slo, latency, lengths, cost)
    verdict = verdict.model_copy(
        update={
            "reasons": (*verdict.reasons, *slo_reasons),
            # A lower bound: True only when it fits, no target is below the bound and some batch meets the ITL.
            "meets_slo": None
            if slo is None
            else verdict.fits and not slo_reasons and bool(throughput.batch_size),
            "notes": tuple(notes),
        }
    )
    return CapacityPlan(
        model=model.name,
        gpu=gpu.name,
        tensor_parallel_size=tp,
        quantization=scheme.name,
        profile=profile.label,
        verdict=verdict,
        engine=PlanEngine(
            max_model_len=engine.max_model_len,
            max_num_batched_tokens=engine.max_num_batched_tokens,
            max_num_seqs=engine.max_num_seqs,
            gpu_memory_utilization=engine.gpu_memory_utilization,
            enforce_eager=engine.enforce_eager,
        ),
        weights=weights,
        memory=mem.budget,
        kv=kv,
        latency=latency,
        throughput=throughput,
        cost=cost,
        derivations=tuple(ex.items),
    )


def _weights(
    model: ModelSpec, gpu: GpuSpec, scheme: QuantScheme, ex: Explain, notes: list[str]
) -> WeightsPlan:
    total = ex.take(derive_total_params(model))
    if model.total_params:
        notes.append(
            f"computed {total / 1e9:.3f} B parameters; the model card says {model.total_params / 1e9:.3f} B"
        )
    if model.sliding_window is not None:
        notes.append(
            f"{model.layer_types.count('sliding') if model.layer_types else model.num_layers} sliding-window "
            f"layers keep at most {model.sliding_window} tokens (+ one chunk); vLLM's hybrid allocator frees "
            "their blocks outside the window"
        )
    return WeightsPlan(
        total_params=total,
        active_params=ex.take(derive_active_params(model)),
        bytes=ex.take(derive_weights_bytes(model, scheme)),
        compute_dtype=compute_dtype_on(gpu, scheme.compute_dtype),
    )


def _verdict(
    model: ModelSpec,
    gpu: GpuSpec,
    engine: ResolvedEngineConfig,
    scheme: QuantScheme,
    mem: Memory,
    ex: Explain,
    notes: list[str],
    behaviour: VllmBehaviour,
) -> Verdict:
    reasons = misfit_reasons(mem, engine, gpu)
    fits = not reasons
    best_tp = ex.take(derive_min_tp(model, gpu, engine, scheme, behaviour))
    if not best_tp:
        reasons.append(f"no tensor-parallel size up to {TP_SIZES[-1]} fits one max_model_len request")
    elif best_tp > gpu.gpus_per_node:
        notes.append(
            f"min_tp {best_tp} exceeds the {gpu.gpus_per_node} GPUs of one node: needs multi-node TP or PP"
        )
    tp = engine.tensor_parallel_size
    if tp > gpu.gpus_per_node:
        reasons.append(
            f"tensor_parallel_size {tp} exceeds the {gpu.gpus_per_node} GPUs of one {gpu.name} node"
        )
        fits = False
    return Verdict(fits=fits, reasons=tuple(reasons), min_tp=best_tp)


def _kv(
    engine: ResolvedEngineConfig,
    mem: Memory,
    sizes: tuple[int, int],
    lengths: Lengths,
    fits: bool,
    ex: Explain,
) -> KvPlan:
    max_len = engine.max_model_len
    request_len = min(max_len, max(1, math.ceil(lengths.mean_prompt + lengths.mean_output)))
    return KvPlan(
        cache_dtype=engine.kv_cache_dtype,
        bytes_per_token=sizes[0],
        bytes_per_token_per_gpu=sizes[1],
        block_size=mem.block_size,
        capacity_blocks=mem.capacity.num_blocks,
        capacity_tokens=mem.capacity.tokens,
        max_concurrency=ex.take(
            derive_max_concurrency(
                "max_concurrency", mem.capacity, max_len, request="max_model_len tokens", fits=fits
            )
        ),
        max_concurrency_at_workload=ex.take(
            derive_max_concurrency(
                "max_concurrency_at_workload",
                mem.capacity,
                request_len,
                request="mean prompt + mean output tokens",
                fits=fits,
            )
        ),
    )


def _batch_sizes(limit: int) -> list[int]:
    sizes, b = [], 1
    while b < limit:
        sizes.append(b)
        b *= 2
    sizes.append(max(1, limit))
    return sorted(set(sizes))


def _latency(
    roof: Roofline,
    engine: ResolvedEngineConfig,
    lengths: Lengths,
    kv: KvPlan,
    fits: bool,
    ex: Explain,
    notes: list[str],
) -> LatencyPlan:
    max_len, chunk = engine.max_model_len, engine.max_num_batched_tokens
    if not lengths.from_workload:
        notes.append(
            f"no workload: latencies assume a {DEFAULT_PROMPT_TOKENS}-token prompt and "
            f"{DEFAULT_OUTPUT_TOKENS}-token answer"
        )
    p50, p99 = min(lengths.prompt_p50, max_len), min(lengths.prompt_p99, max_len)
    ttft_p50 = ex.take(derive_ttft("ttft_p50_s", roof, p50, chunk_tokens=chunk))
    ttft_p99 = ex.take(derive_ttft("ttft_p99_s", roof, p99, chunk_tokens=chunk))
    context = min(max_len, max(1, round(lengths.mean_prompt + lengths.mean_output / 2)))
    itl = {b: ex.take(derive_itl(roof, b, context)) for b in _batch_sizes(_batch_limit(engine, kv, fits))}
    return LatencyPlan(
        prompt_tokens_p50=p50,
        prompt_tokens_p99=p99,
        ttft_p50_s=ttft_p50,
        ttft_p99_s=ttft_p99,
        decode_context_tokens=context,
        itl_by_batch_s=itl,
        crossover_batch_size=ex.take(derive_crossover(roof)),
    )


def _batch_limit(engine: ResolvedEngineConfig, kv: KvPlan, fits: bool) -> int:
    """Largest decode batch worth looking at: max_num_seqs, and what the KV cache holds at the workload."""
    return max(1, min(engine.max_num_seqs, math.floor(kv.max_concurrency_at_workload) if fits else 1))


def _throughput(
    roof: Roofline,
    latency: LatencyPlan,
    lengths: Lengths,
    itl_limit: tuple[str, float] | None,
    fits: bool,
    ex: Explain,
) -> ThroughputPlan:
    limit_s = itl_limit[1] if itl_limit else None
    batches = list(latency.itl_by_batch_s)
    tps, batch = best_throughput(roof, batches, lengths.mean_prompt, lengths.mean_output, itl_limit_s=limit_s)
    rate = None
    if fits and batch:
        rate = ex.take(
            derive_max_output_tokens_per_s(
                tps,
                batch,
                mean_prompt_tokens=lengths.mean_prompt,
                mean_output_tokens=lengths.mean_output,
                itl_limit_s=limit_s,
            )
        )
    return ThroughputPlan(
        mean_prompt_tokens=lengths.mean_prompt,
        mean_output_tokens=lengths.mean_output,
        output_tokens_per_s=rate,
        batch_size=batch or None,
    )


def _cost(
    gpu: GpuSpec,
    price: PriceUsed | None,
    tp: int,
    throughput: ThroughputPlan,
    ex: Explain,
    notes: list[str],
) -> CostReport:
    missing = None
    if price is None:
        missing = missing_price(gpu.name)
        notes.append(f"no $/Mtok: {missing}")
    return plan_cost(price, tp, throughput, ex, missing)


def _slo_threshold(slo: SLO | None, metrics: tuple[str, ...]) -> tuple[str, float] | None:
    if slo is None:
        return None
    found = [(t.stat, t.threshold) for t in slo.targets if t.metric in metrics]
    return min(found, key=lambda st: st[1]) if found else None


def _slo_reasons(slo: SLO | None, latency: LatencyPlan, lengths: Lengths, cost: CostReport) -> list[str]:
    """Roofline latencies are lower bounds, and the cost at the roofline's maximum throughput is too: a target
    below them cannot be met by any scheduler setting."""
    if slo is None:
        return []
    itl_1 = latency.itl_by_batch_s.get(1, 0.0)
    reasons = []
    for target in slo.targets:
        if target.metric == "cost":
            if cost.usd_per_mtok is not None and cost.usd_per_mtok > target.threshold:
                reasons.append(
                    f"SLO cost<{target.threshold:g}$/Mtok cannot be met: at the roofline's maximum throughput "
                    f"one replica costs ${cost.usd_per_mtok:.4g}/Mtok"
                )
            continue
        if target.metric == "ttft":
            bound = latency.ttft_p50_s if target.stat in ("p50", "mean") else latency.ttft_p99_s
        elif target.metric in ("itl", "tpot"):
            bound = itl_1
        elif target.metric == "e2e":
            bound = latency.ttft_p50_s + max(lengths.mean_output - 1, 0) * itl_1
        else:
            continue
        if bound > target.threshold:
            reasons.append(
                f"SLO {target.metric}:{target.stat}<{target.threshold:g}s cannot be met: the roofline lower bound "
                f"is {bound:.4g} s"
            )
    return reasons


def default_quantizations(model: ModelSpec) -> list[str]:
    """Options `--gpu all` tries when none is given: the checkpoint's own, bf16, fp8 and AWQ int4."""
    native = resolve_quantization(model, None)
    names = [native.name, "bf16"]
    if native.compute_dtype != "fp8":
        names.append("fp8")
    names.append("awq")
    return list(dict.fromkeys(names))


def rank_options(
    model: ModelSpec,
    engine_config: EngineConfig,
    *,
    gpus: list[GpuSpec],
    quantizations: list[str] | None = None,
    tensor_parallel_sizes: list[int] | None = None,
    workload: Workload | None = None,
    slo: SLO | None = None,
    profile: HardwareProfile | None = None,
    prices: PriceBook | None = None,
    rank_by: RankBy = "cost",
) -> PlanRanking:
    """Every GPU x TP x quantization option that fits, best first: cheapest $/Mtok (`rank_by="cost"`) or most
    output tokens/s per GPU (`"throughput-per-gpu"`).

    Options that miss the SLO's roofline bound come after those that meet it. Where a cost is wanted (ranking by
    cost, or an SLO with a cost target) only GPUs with a price are ranked; the others are named in
    `unpriced_gpus`. TP sizes default to those valid for the model up to one node of each GPU.
    """
    lengths = lengths_of(workload)
    profile = profile or load_profile()
    schemes = [resolve_quantization(model, q) for q in (quantizations or default_quantizations(model))]
    needs_price = rank_by == "cost" or _has_cost_target(slo)
    plans: list[CapacityPlan] = []
    unpriced: list[str] = []
    for gpu in gpus:
        price = price_for(gpu, prices)
        if price is None and needs_price:
            unpriced.append(gpu.name)
            continue
        sizes = tensor_parallel_sizes or valid_tp_sizes(model, limit=gpu.gpus_per_node)
        for tp in sizes:
            engine = engine_config.model_copy(update={"tensor_parallel_size": tp})
            _check_inputs(model, engine)
            for scheme in schemes:
                plan = _plan(model, gpu, engine, scheme, lengths, slo, profile, price)
                if plan.fits:
                    plans.append(plan)
    key = _by_cost if rank_by == "cost" else _by_throughput_per_gpu
    return PlanRanking(
        model=model.name,
        rank_by=rank_by,
        options=tuple(sorted(plans, key=key)),
        unpriced_gpus=tuple(unpriced),
    )


def throughput_per_gpu(plan: CapacityPlan) -> float:
    """One replica's maximum output tokens/s over the GPUs it holds."""
    return (plan.throughput.output_tokens_per_s or 0.0) / plan.tensor_parallel_size


def _by_cost(plan: CapacityPlan) -> tuple[bool, float, float]:
    cost = plan.cost.usd_per_mtok if plan.cost.usd_per_mtok is not None else math.inf
    return (plan.verdict.meets_slo is False, cost, -(plan.throughput.output_tokens_per_s or 0.0))


def _by_throughput_per_gpu(plan: CapacityPlan) -> tuple[bool, float, float]:
    cost = plan.cost.usd_per_mtok if plan.cost.usd_per_mtok is not None else math.inf
    return (plan.verdict.meets_slo is False, -throughput_per_gpu(plan), cost)
