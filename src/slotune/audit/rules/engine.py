"""Software layer, engine flags: vLLM configured by guesswork (seed, section 4, layer 2): max-model-len far too
high, gpu-memory-utilization at 1.0, prefix caching off, and the execution and batching flags the seed ranks
first (`--enforce-eager`, chunked prefill), plus flags the installed vLLM no longer accepts."""

from __future__ import annotations

import difflib

import numpy as np

from slotune.audit.engine_args import compilation_off
from slotune.audit.estimate import HIT_RATE, ITL_MEAN, ITL_P99, OUTPUT_RATE, TTFT_MEAN, TTFT_P99, plan_effect
from slotune.audit.evidence import Evidence
from slotune.audit.registry import Hit, Rule, kinds
from slotune.audit.rules._common import flag_fix, plans, round_up, split_effect
from slotune.launch.flags import REMOVED_FLAGS
from slotune.models import EngineConfig
from slotune.models.audit import Effect, EffectMetric, EvidenceKind
from slotune.vllm_rules import batch_defaults

HIGH_MEMORY_UTILIZATION = 0.98
VLLM_DEFAULT_MEMORY_UTILIZATION = 0.92
LONG_CONTEXT_TOKENS = 32_768
# max_model_len this many times the workload's p99 prompt + output is far above what it needs.
MAX_MODEL_LEN_OVER_P99 = 4.0
MAX_MODEL_LEN_STEP = 1024


def _memory_utilization(ev: Evidence) -> tuple[float, EvidenceKind] | None:
    if ev.engine is not None and "gpu_memory_utilization" in ev.engine.given_fields:
        return ev.engine.config.gpu_memory_utilization, "engine"
    if ev.metrics is not None and (value := ev.metrics.cache_setting("gpu_memory_utilization")):
        try:
            return float(value), "metrics"
        except ValueError:
            return None
    return None


def check_memory_utilization(ev: Evidence) -> list[Hit]:
    found = _memory_utilization(ev)
    if found is None or found[0] < HIGH_MEMORY_UTILIZATION:
        return []
    value, kind = found
    effect, note = None, None
    if ev.gpu is not None and ev.model is not None:
        before = ev.engine_config.model_copy(update={"gpu_memory_utilization": value})
        after = before.model_copy(update={"gpu_memory_utilization": VLLM_DEFAULT_MEMORY_UTILIZATION})
        pair = plans(ev.estimator, before, after)
        if isinstance(pair, str):
            note = pair
        else:
            effect = plan_effect(
                f"--gpu-memory-utilization {VLLM_DEFAULT_MEMORY_UTILIZATION}",
                *pair,
                ("memory headroom per GPU", "KV cache"),
                ev.estimator.basis(),
            )
    else:
        note = ev.estimator.missing(simulate=False)
    return [
        Hit(
            severity="medium",
            confidence="high",
            message=(
                f"gpu_memory_utilization is {value:g}: vLLM may use {value:.0%} of each GPU's total memory, "
                "leaving nothing for the CUDA context, NCCL buffers, other processes or fragmentation; "
                "the server fails to start or dies with out-of-memory under load"
            ),
            evidence=(kind,),
            observed={"gpu_memory_utilization": value},
            fixes=(
                flag_fix(
                    "--gpu-memory-utilization",
                    str(VLLM_DEFAULT_MEMORY_UTILIZATION),
                    f"{value:g}",
                    f"set --gpu-memory-utilization {VLLM_DEFAULT_MEMORY_UTILIZATION} (vLLM's default; raise it in "
                    "small steps only while a benchmark shows no OOM)",
                ),
            ),
            effect=effect,
            effect_note=note,
        )
    ]


def _max_model_len(ev: Evidence) -> tuple[int | None, EvidenceKind | None]:
    if ev.engine is not None and ev.engine.config.max_model_len is not None:
        return ev.engine.config.max_model_len, "engine"
    if ev.metrics is not None and ev.metrics.served_max_model_len is not None:
        return ev.metrics.served_max_model_len, "metrics"
    return None, "engine" if ev.engine is not None else None


def fitted_max_model_len(ev: Evidence) -> tuple[int, float, float] | None:
    """(a max_model_len for the logged traffic, its p99 total tokens, its longest): twice the p99 prompt +
    output, at least the longest request, rounded up to a multiple of 1,024."""
    if ev.requests is None:
        return None
    totals = ev.requests.columns.total_tokens
    p99, longest = float(np.percentile(totals, 99)), float(totals.max())
    return round_up(max(2 * p99, longest), MAX_MODEL_LEN_STEP), p99, longest


def check_max_model_len(ev: Evidence) -> list[Hit]:
    current, kind = _max_model_len(ev)
    fitted = fitted_max_model_len(ev)
    context = ev.model.max_position_embeddings if ev.model is not None else None
    evidence: tuple[EvidenceKind, ...] = tuple(k for k in (kind,) if k is not None)
    if current is not None and fitted is not None:
        value, p99, longest = fitted
        if current <= MAX_MODEL_LEN_OVER_P99 * p99 or current <= longest or value >= current:
            return []
        message = (
            f"max_model_len is {current:,} tokens, {current / p99:,.0f}x the p99 prompt + output of the logged "
            f"requests ({p99:,.0f}; longest {longest:,.0f})"
        )
        severity, confidence = "medium", "high"
        evidence += ("requests",)
    elif current is None and context is not None and context >= LONG_CONTEXT_TOKENS:
        value = fitted[0] if fitted is not None else LONG_CONTEXT_TOKENS // 4
        message = (
            f"max_model_len is not set, so vLLM serves the model's whole context ({context:,} tokens)"
            + (f" while the logged requests need at most {fitted[2]:,.0f}" if fitted else "")
        )
        severity, confidence = ("medium", "high") if fitted is not None else ("low", "low")
        evidence += kinds("model", "requests" if fitted is not None else None)
    else:
        return []
    message += (
        ": every scheduler limit, the chunked-prefill budget without chunking and the KV memory check at start-up "
        "are sized for requests that never come, and one runaway request can hold the whole cache"
    )
    before = ev.engine_config.model_copy(update={"max_model_len": current or context})
    after = ev.engine_config.model_copy(update={"max_model_len": value})
    effect, note = _plan_effect_or_note(
        ev, before, after, f"--max-model-len {value}", ("max concurrency at max_model_len",)
    )
    return [
        Hit(
            severity=severity,  # type: ignore[arg-type]
            confidence=confidence,  # type: ignore[arg-type]
            message=message,
            evidence=evidence,
            observed={"max_model_len": current, "model context": context, "fitted max_model_len": value},
            fixes=(
                flag_fix(
                    "--max-model-len",
                    str(value),
                    None if current is None else str(current),
                    f"set --max-model-len {value}"
                    + (
                        " (twice the logged p99 prompt + output, at least the longest request)"
                        if fitted
                        else " (give --requests for a length fitted to your traffic)"
                    ),
                ),
            ),
            effect=effect,
            effect_note=note,
        )
    ]


def _plan_effect_or_note(
    ev: Evidence, before: EngineConfig, after: EngineConfig, what: str, names: tuple[str, ...]
) -> tuple[Effect | None, str | None]:
    if ev.model is None or ev.gpu is None:
        return None, ev.estimator.missing(simulate=False)
    pair = plans(ev.estimator, before, after)
    if isinstance(pair, str):
        return None, pair
    return plan_effect(what, *pair, names, ev.estimator.basis()), None


def _simulated_or_planned(
    ev: Evidence,
    what: str,
    before: EngineConfig,
    after: EngineConfig,
    sim_metrics: tuple,
    plan_names: tuple[str, ...],
) -> tuple[Effect | None, str | None]:
    """The simulator's estimate on the logged workload, else the planner's, else why neither."""
    if ev.requests is not None and ev.model is not None and ev.gpu is not None:
        return split_effect(ev.estimator.compare_runs(what, before, after, sim_metrics))
    return _plan_effect_or_note(ev, before, after, what, plan_names)


def check_eager(ev: Evidence) -> list[Hit]:
    assert ev.engine is not None
    config = ev.engine.config
    compile_flag = compilation_off(ev.engine)
    if not config.enforce_eager and compile_flag is None:
        return []
    given = "--enforce-eager" if config.enforce_eager else compile_flag
    assert given is not None
    before = config.model_copy(update={"enforce_eager": True})
    after = config.model_copy(update={"enforce_eager": False})
    effect, note = _simulated_or_planned(
        ev, f"removing {given}", before, after, (ITL_MEAN, ITL_P99, OUTPUT_RATE), ("decode step at batch 1",)
    )
    return [
        Hit(
            severity="medium",
            confidence="high",
            message=(
                f"{given} runs the model without torch.compile and CUDA graphs: every decode step launches each "
                "kernel from Python, which the seed counts among the largest latency costs (tens of ms); keep it "
                "for debugging only"
            ),
            evidence=("engine",),
            observed={"flag": given},
            fixes=(
                flag_fix(
                    given.split()[0].split("=")[0],
                    None,
                    given,
                    f"remove {given} (vLLM compiles and captures CUDA graphs by default)",
                ),
            ),
            effect=effect,
            effect_note=note,
        )
    ]


def _prefix_caching_off(ev: Evidence) -> EvidenceKind | None:
    if (
        ev.engine is not None
        and "enable_prefix_caching" in ev.engine.given_fields
        and not ev.engine.config.enable_prefix_caching
    ):
        return "engine"
    if ev.metrics is not None and ev.metrics.prefix_caching_enabled is False:
        return "metrics"
    return None


def check_prefix_caching(ev: Evidence) -> list[Hit]:
    kind = _prefix_caching_off(ev)
    if kind is None:
        return []
    reuse = (
        ev.requests.sample_stats.prefix_reuse.unbounded_token_fraction if ev.requests is not None else None
    )
    severity = "high" if reuse is not None and reuse >= 0.1 else "low" if reuse == 0 else "medium"
    before = ev.engine_config.model_copy(update={"enable_prefix_caching": False})
    after = before.model_copy(update={"enable_prefix_caching": True})
    effect, note = None, None
    if ev.requests is not None and ev.model is not None and ev.gpu is not None:
        effect, note = split_effect(
            ev.estimator.compare_runs(
                "enabling prefix caching", before, after, (HIT_RATE, TTFT_MEAN, TTFT_P99)
            )
        )
    elif ev.requests is not None and reuse is not None:
        effect = Effect(
            source="workload",
            summary=f"enabling prefix caching: an unbounded prefix cache would serve {reuse:.0%} of the logged prompt tokens",
            metrics=(EffectMetric(name="prefix cache hit rate", unit="fraction", before=0.0, after=reuse),),
            basis=f"{ev.requests.sample_note}, one at a time in arrival order ({ev.estimator.missing(simulate=True) or ''} for TTFT)",
        )
    else:
        note = ev.estimator.missing(simulate=True)
    shared = (
        f"; {reuse:.0%} of the logged prompt tokens repeat an earlier prompt's prefix"
        if reuse is not None
        else ""
    )
    return [
        Hit(
            severity=severity,  # type: ignore[arg-type]
            confidence="high",
            message=f"prefix caching is off: every request prefills its whole prompt, shared system prompts and history included{shared}",
            evidence=(kind,) + (("requests",) if ev.requests is not None else ()),
            observed={"enable_prefix_caching": False, "shared prefix token fraction": reuse},
            fixes=(
                flag_fix(
                    "--enable-prefix-caching",
                    "on",
                    "off",
                    "remove --no-enable-prefix-caching, or pass --enable-prefix-caching",
                ),
            ),
            effect=effect,
            effect_note=note,
        )
    ]


def _resolved_budget(ev: Evidence) -> tuple[int | None, int | None]:
    """(max_num_batched_tokens as given or as vLLM's default for the GPU, max_model_len where known)."""
    config = ev.engine_config
    length = config.max_model_len or (ev.model.max_position_embeddings if ev.model is not None else None)
    tokens = config.max_num_batched_tokens
    if tokens is None and ev.gpu is not None:
        tokens = batch_defaults(ev.gpu).max_num_batched_tokens
    return tokens, length


def check_chunked_prefill(ev: Evidence) -> list[Hit]:
    assert ev.engine is not None
    config = ev.engine.config
    if config.enable_chunked_prefill or "enable_chunked_prefill" not in ev.engine.given_fields:
        return []
    tokens, length = _resolved_budget(ev)
    if (
        config.max_num_batched_tokens is not None
        and length is not None
        and config.max_num_batched_tokens < length
    ):
        return []  # engine-batch-budget-below-max-model-len says it: vLLM refuses to start
    before = config.model_copy(update={"enable_chunked_prefill": False})
    after = config.model_copy(update={"enable_chunked_prefill": True})
    effect, note = _simulated_or_planned(
        ev, "enabling chunked prefill", before, after, (ITL_P99, TTFT_P99, OUTPUT_RATE), ("prefill p50",)
    )
    return [
        Hit(
            severity="medium",
            confidence="high",
            message=(
                "chunked prefill is off: a long prompt is prefilled in one step while every running request waits "
                "for its next token (ITL spikes), and the step budget must hold a whole max_model_len prompt"
            ),
            evidence=("engine",),
            observed={
                "enable_chunked_prefill": False,
                "max_num_batched_tokens": tokens,
                "max_model_len": length,
            },
            fixes=(
                flag_fix(
                    "--enable-chunked-prefill",
                    "on",
                    "off",
                    "remove --no-enable-chunked-prefill, or pass --enable-chunked-prefill",
                ),
            ),
            effect=effect,
            effect_note=note,
        )
    ]


def check_batch_budget(ev: Evidence) -> list[Hit]:
    assert ev.engine is not None
    config = ev.engine.config
    tokens, length = (
        config.max_num_batched_tokens,
        config.max_model_len or (ev.model.max_position_embeddings if ev.model else None),
    )
    if config.enable_chunked_prefill or tokens is None or length is None or tokens >= length:
        return []
    return [
        Hit(
            severity="high",
            confidence="high",
            message=(
                f"chunked prefill is off and --max-num-batched-tokens {tokens:,} is below max_model_len {length:,}: "
                "a whole prompt must fit one step, so vLLM refuses to start (SchedulerConfig.verify_max_model_len)"
            ),
            evidence=kinds("engine", "model" if config.max_model_len is None else None),
            observed={
                "max_num_batched_tokens": tokens,
                "max_model_len": length,
                "enable_chunked_prefill": False,
            },
            fixes=(
                flag_fix(
                    "--enable-chunked-prefill",
                    "on",
                    "off",
                    "pass --enable-chunked-prefill (prompts are split into chunks of the step budget)",
                ),
                flag_fix(
                    "--max-num-batched-tokens",
                    str(length),
                    str(tokens),
                    f"or raise --max-num-batched-tokens to {length} (max_model_len)",
                ),
            ),
        )
    ]


def _unknown_flags(ev: Evidence) -> list[tuple[str, str, str | None]]:
    """(flag, why, closest accepted flag) for each flag the vLLM judged against would refuse."""
    assert ev.engine is not None
    out = []
    for flag in ev.engine.flags:
        base = flag.name.split(".", 1)[0]
        if not base.startswith("-"):
            continue
        if ev.parser is not None:
            if base in ev.parser.options:
                continue
            close = difflib.get_close_matches(base, list(ev.parser.options), n=1, cutoff=0.6)
            why = REMOVED_FLAGS.get(base, f"vLLM {ev.parser.vllm_version} has no such flag")
            out.append((base, why, close[0] if close else None))
        elif base in REMOVED_FLAGS:
            out.append((base, REMOVED_FLAGS[base], None))
    return out


def check_removed_flags(ev: Evidence) -> list[Hit]:
    unknown = _unknown_flags(ev)
    if not unknown:
        return []
    version = ev.parser.vllm_version if ev.parser is not None else None
    against = (
        f"the installed vLLM {version}'s own argument parser"
        if version
        else "slotune's list of flags vLLM removed"
    )
    fixes = tuple(
        flag_fix(
            flag,
            close if close and flag not in REMOVED_FLAGS else None,
            flag,
            f"use {close} instead of {flag}"
            if close and flag not in REMOVED_FLAGS
            else f"remove {flag} ({why})",
        )
        for flag, why, close in unknown
    )
    names = ", ".join(f for f, _, _ in unknown)
    return [
        Hit(
            severity="high",
            confidence="high" if ev.parser is not None else "medium",
            message=f"{names}: not accepted by {against}; vLLM exits at start-up with an argument error",
            evidence=kinds("engine", "vllm" if ev.parser is not None else None),
            observed={"flags": names, "vllm": version or ev.vllm_version},
            fixes=fixes,
        )
    ]


RULES = (
    Rule(
        "engine-gpu-memory-utilization-high",
        "gpu_memory_utilization leaves no headroom",
        "software",
        "--gpu-memory-utilization of 0.98 or more",
        (("engine", "metrics"),),
        check_memory_utilization,
    ),
    Rule(
        "engine-max-model-len",
        "max_model_len far above what the traffic needs",
        "software",
        "--max-model-len unset on a long-context model, or far above the logged requests' p99 prompt + output",
        (("engine", "metrics"), ("requests", "model")),
        check_max_model_len,
    ),
    Rule(
        "engine-eager-mode",
        "eager mode (no compilation, no CUDA graphs)",
        "software",
        "--enforce-eager, -O0 or a compilation config with mode 0",
        (("engine",),),
        check_eager,
    ),
    Rule(
        "engine-prefix-caching-off",
        "prefix caching disabled",
        "software",
        "--no-enable-prefix-caching, or enable_prefix_caching=False in the server's cache_config_info",
        (("engine", "metrics"),),
        check_prefix_caching,
    ),
    Rule(
        "engine-chunked-prefill-off",
        "chunked prefill disabled",
        "software",
        "--no-enable-chunked-prefill",
        (("engine",),),
        check_chunked_prefill,
    ),
    Rule(
        "engine-batch-budget-below-max-model-len",
        "chunked prefill off with a step budget below max_model_len",
        "software",
        "--no-enable-chunked-prefill with --max-num-batched-tokens below max_model_len",
        (("engine",),),
        check_batch_budget,
    ),
    Rule(
        "engine-removed-flag",
        "flags the installed vLLM does not accept",
        "software",
        "flags vLLM removed (--swap-space, ...) or that its parser does not know",
        (("engine",),),
        check_removed_flags,
    ),
)
