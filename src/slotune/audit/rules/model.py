"""Model layer (seed, section 4, layer 1): one huge model for every task, quantization skipped, MoE feared.

Each alternative is planned with slotune's planner on the same GPU and engine flags, so the effect (GPUs
needed, KV capacity, output tokens/s per replica, $/Mtok) is the planner's, not a rule of thumb. Quality is not
something the planner sees: confidence is never high, and the fix says to evaluate before switching.
"""

from __future__ import annotations

from slotune.audit.estimate import effect_summary, plan_effect
from slotune.audit.evidence import Evidence
from slotune.audit.registry import Hit, Rule
from slotune.audit.rules._common import flag_fix, task_shape
from slotune.catalog import list_models
from slotune.models import CapacityPlan, ModelSpec
from slotune.models.audit import Effect, EffectMetric
from slotune.plan.params import total_params

LARGE_MODEL_PARAMS = 30e9
# Right-sized candidates for a classification or extraction task (the seed: "a 3B-8B model handles it").
SMALL_MODEL_PARAMS = (3e9, 9e9)
# A quantized variant is worth it when it needs fewer GPUs, or holds this much more KV cache.
KV_GAIN = 1.5
# An MoE alternative is worth a look when its output tokens/s per replica is this much higher.
MOE_THROUGHPUT_GAIN = 1.2


def _params(model: ModelSpec) -> int:
    return model.total_params or total_params(model)


def small_candidate(model: ModelSpec) -> ModelSpec | None:
    """The largest catalog model of 3-9B parameters, of the model's own architecture where there is one."""
    low, high = SMALL_MODEL_PARAMS
    small = [m for m in list_models() if m.moe is None and low <= _params(m) <= high]
    same = [m for m in small if m.architecture == model.architecture]
    pool = same or small
    return max(pool, key=_params) if pool else None


def _basis(ev: Evidence) -> str:
    return f"{ev.estimator.basis()}; flags {' '.join(ev.engine_config.vllm_args()) or '(vLLM defaults)'}"


def check_oversized(ev: Evidence) -> list[Hit]:
    assert ev.model is not None and ev.requests is not None
    shape = task_shape(ev.requests.columns)
    params = _params(ev.model)
    if shape is None or not shape.is_short_and_fixed or params < LARGE_MODEL_PARAMS:
        return []
    candidate = small_candidate(ev.model)
    effect, note = None, None
    if candidate is not None and ev.gpu is not None:
        engine = ev.engine_config.model_copy(update={"tensor_parallel_size": 1})
        current, small = ev.estimator.plan(ev.engine_config), ev.estimator.plan(engine, model=candidate)
        if isinstance(current, CapacityPlan) and isinstance(small, CapacityPlan):
            names = ("GPUs needed", "output tokens/s per replica", "cost")
            effect = plan_effect(f"serving {candidate.name}", current, small, names, _basis(ev))
        else:
            note = current if isinstance(current, str) else str(small)
    else:
        note = "give --gpu for an estimate" if candidate is not None else "no 3-9B model in the catalog"
    target = (
        candidate.aliases[0]
        if candidate is not None and candidate.aliases
        else (candidate.name if candidate else "a 3-8B model")
    )
    return [
        Hit(
            severity="medium",
            confidence="medium",
            message=(
                f"{ev.model.name} ({params / 1e9:,.0f}B parameters) serves a classification/extraction-shaped "
                f"workload ({shape.describe()}); a 3-8B model usually handles such tasks at a fraction of the cost"
            ),
            evidence=("model", "requests") + (("gpu",) if ev.gpu is not None else ()),
            observed={
                "parameters": params,
                "output p50 tokens": shape.output_p50,
                "output p90 tokens": shape.output_p90,
            },
            fixes=(
                flag_fix(
                    "--model",
                    target,
                    ev.model.name,
                    f"evaluate {target} (or a distilled model) on this task and serve it if its quality holds",
                ),
            ),
            effect=effect,
            effect_note=note,
        )
    ]


def _quantized_option(ev: Evidence) -> str:
    """fp8 (W8A8) where the GPU has fp8 tensor cores, else AWQ int4 weights."""
    assert ev.gpu is not None
    return "fp8" if ev.gpu.peak_flops_per_s("fp8") else "awq"


def check_unquantized(ev: Evidence) -> list[Hit]:
    assert ev.engine is not None and ev.model is not None and ev.gpu is not None
    config = ev.engine.config
    if config.dtype in ("float", "float32"):
        return [_fp32_hit(ev)]
    if config.quantization or ev.model.checkpoint_quantization:
        return []
    option = _quantized_option(ev)
    current, quantized = ev.estimator.plan(config), ev.estimator.plan(config, quantization=option)
    if not isinstance(current, CapacityPlan) or not isinstance(quantized, CapacityPlan) or not quantized.fits:
        return []
    fewer_gpus = 0 < quantized.verdict.min_tp < config.tensor_parallel_size or (not current.fits)
    kv_gain = (
        quantized.kv.capacity_tokens / current.kv.capacity_tokens
        if current.fits and current.kv.capacity_tokens > 0
        else None
    )
    if not fewer_gpus and (kv_gain is None or kv_gain < KV_GAIN):
        return []
    names = ("weights per GPU", "KV cache", "GPUs needed", "output tokens/s per replica", "cost")
    effect = plan_effect(f"--quantization {option}", current, quantized, names, _basis(ev))
    dtype = ev.model.torch_dtype if config.dtype == "auto" else config.dtype
    return [
        Hit(
            severity="medium" if fewer_gpus else "low",
            confidence="medium",
            message=(
                f"{ev.model.name} is served unquantized ({dtype}); {option} weights "
                + ("fit on fewer GPUs" if fewer_gpus else f"leave {kv_gain:.1f}x the KV cache")
                + " on this GPU: more concurrent requests and less memory traffic per decode step"
            ),
            evidence=("engine", "model", "gpu"),
            observed={
                "dtype": dtype,
                "quantization": "none",
                "tensor_parallel_size": config.tensor_parallel_size,
            },
            fixes=(
                flag_fix(
                    "--quantization",
                    option,
                    None,
                    f"serve {option} weights (--quantization {option}, or a pre-quantized {option.upper()} checkpoint) "
                    "after checking quality on your evaluation set",
                ),
            ),
            effect=effect,
        )
    ]


def _fp32_hit(ev: Evidence) -> Hit:
    assert ev.engine is not None
    after = ev.engine.config.model_copy(update={"dtype": "bfloat16"})
    plan = ev.estimator.plan(after)
    effect = None
    if isinstance(plan, CapacityPlan):
        # fp32 weights take twice the bytes of the bf16 weights the planner computed.
        metric = EffectMetric(
            name="weights per GPU",
            unit="bytes",
            before=2.0 * plan.memory.weights_bytes,
            after=float(plan.memory.weights_bytes),
        )
        effect = Effect(
            source="planner",
            summary=effect_summary("--dtype bfloat16", (metric,)),
            metrics=(metric,),
            basis=_basis(ev),
        )
    return Hit(
        severity="high",
        confidence="high",
        message=f"{ev.engine.config.dtype} weights take twice the memory of bf16 and run on slower matmul paths; no serving GPU needs them",
        evidence=("engine", "model", "gpu"),
        observed={"dtype": ev.engine.config.dtype},
        fixes=(
            flag_fix(
                "--dtype",
                "bfloat16",
                ev.engine.config.dtype,
                "set --dtype bfloat16 (float16 on GPUs without bf16)",
            ),
        ),
        effect=effect,
    )


def moe_candidates(model: ModelSpec) -> list[ModelSpec]:
    """Catalog MoE models with fewer active than the dense model's total parameters, no more than 1.5x its size."""
    size = _params(model)
    return [
        m
        for m in list_models()
        if m.moe is not None and _params(m) <= 1.5 * size and (m.active_params or _params(m)) < size
    ]


def _best_moe(ev: Evidence) -> tuple[ModelSpec, CapacityPlan, CapacityPlan] | None:
    """The largest catalog MoE model (the closest in quality class) that fits the same GPUs with more output
    tokens/s than the dense model, with both plans."""
    assert ev.model is not None
    current = ev.estimator.plan(ev.engine_config)
    if (
        not isinstance(current, CapacityPlan)
        or not current.fits
        or not current.throughput.output_tokens_per_s
    ):
        return None
    floor = MOE_THROUGHPUT_GAIN * current.throughput.output_tokens_per_s
    options = []
    for candidate in moe_candidates(ev.model):
        plan = ev.estimator.plan(ev.engine_config.model_copy(update={"quantization": None}), model=candidate)
        if (
            isinstance(plan, CapacityPlan)
            and plan.fits
            and (plan.throughput.output_tokens_per_s or 0) >= floor
        ):
            options.append((candidate, current, plan))
    return max(options, key=lambda option: _params(option[0]), default=None)


def check_moe(ev: Evidence) -> list[Hit]:
    assert ev.model is not None and ev.gpu is not None
    if ev.model.moe is not None or _params(ev.model) < LARGE_MODEL_PARAMS:
        return []
    best = _best_moe(ev)
    if best is None:
        return []
    candidate, current, plan = best
    names = ("output tokens/s per replica", "decode step at batch 1", "cost")
    effect = plan_effect(f"serving {candidate.name}", current, plan, names, _basis(ev))
    target = candidate.aliases[0] if candidate.aliases else candidate.name
    return [
        Hit(
            severity="low",
            confidence="low",
            message=(
                f"{ev.model.name} is dense: every token reads all {_params(ev.model) / 1e9:,.0f}B parameters. "
                f"{candidate.name} (MoE, {(candidate.active_params or 0) / 1e9:,.0f}B active) fits the same "
                f"{ev.engine_config.tensor_parallel_size} x {ev.gpu.name} and the planner gives it more output tokens/s"
            ),
            evidence=("model", "gpu") + (("engine",) if ev.engine is not None else ()),
            observed={"parameters": _params(ev.model), "candidate": candidate.name},
            fixes=(
                flag_fix(
                    "--model",
                    target,
                    ev.model.name,
                    f"evaluate {target} on your task; vLLM serves MoE models with the same flags",
                ),
            ),
            effect=effect,
        )
    ]


RULES = (
    Rule(
        "model-oversized-for-task",
        "a large model on a classification/extraction-shaped task",
        "model",
        "30B+ parameters serving short, fixed-length outputs",
        (("model",), ("requests",)),
        check_oversized,
    ),
    Rule(
        "model-unquantized",
        "fp32/fp16 weights where a quantized variant fits",
        "model",
        "fp32 weights, or unquantized weights where fp8/int4 fits on fewer GPUs or holds 1.5x the KV cache",
        (("engine",), ("model",), ("gpu",)),
        check_unquantized,
    ),
    Rule(
        "model-moe-not-considered",
        "MoE not considered where it fits the budget",
        "model",
        "a dense 30B+ model where a catalog MoE model fits the same GPUs with more throughput",
        (("model",), ("gpu",)),
        check_moe,
    ),
)
