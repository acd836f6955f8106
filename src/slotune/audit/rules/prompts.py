"""Software layer, the requests themselves (seed, section 4, layer 2: prompt optimization skipped, sampling
misused): long system prompts, varying text placed before the static part (it defeats prefix caching), no stop
sequences, max_tokens far above what is generated, and sampling on deterministic tasks."""

from __future__ import annotations

import math

import numpy as np

from slotune.audit.estimate import HIT_RATE, TTFT_MEAN
from slotune.audit.evidence import Evidence
from slotune.audit.prompts import PromptStructure, text_prefix_blocks
from slotune.audit.registry import Hit, Rule, kinds
from slotune.audit.rules._common import split_effect, task_shape
from slotune.models import Workload
from slotune.models.audit import Effect, EffectMetric, Fix
from slotune.workload import analyze

LONG_SYSTEM_PROMPT_TOKENS = 1000
# Static text behind varying text: this share of all prompt characters, in this share of the requests.
BLOCKED_STATIC_FRACTION = 0.2
BLOCKED_REQUEST_FRACTION = 0.5
NO_STOP_FRACTION = 0.5  # fewer requests than this set a stop sequence...
RAN_TO_LIMIT_FRACTION = 0.5  # ...and at least this many ran to max_tokens
MAX_TOKENS_OVER_P99 = 4.0
SAMPLING_FRACTION = 0.5


def check_long_system_prompt(ev: Evidence) -> list[Hit]:
    assert ev.requests is not None
    log = ev.requests.sample_stats.request_log
    system = log.system_prompt if log is not None else None
    if (
        system is None
        or system.shared_tokens < LONG_SYSTEM_PROMPT_TOKENS
        or system.shared_request_fraction < 0.5
    ):
        return []
    caching_off = ev.engine is not None and not ev.engine.config.enable_prefix_caching
    return [
        Hit(
            severity="medium" if caching_off else "low",
            confidence="medium" if ev.requests.chars_per_token is not None else "high",
            message=(
                f"the system prompt of {system.shared_request_fraction:.0%} of the logged requests is "
                f"{system.shared_tokens:,} tokens, {system.shared_prompt_token_fraction:.0%} of all prompt tokens: "
                "each request pays its prefill unless the prefix cache holds it"
                + (", and prefix caching is off" if caching_off else "")
            ),
            evidence=kinds("requests", "engine" if caching_off else None),
            observed={
                "system prompt tokens": system.shared_tokens,
                "requests with it": system.shared_request_fraction,
                "share of prompt tokens": system.shared_prompt_token_fraction,
                "tokens counted from text": ev.requests.chars_per_token is not None,
            },
            fixes=(
                Fix(
                    kind="request",
                    target="messages[0].content",
                    value=None,
                    text="shorten the system prompt to what the task needs (few-shot examples and boilerplate first); "
                    "keep it first and byte-identical across requests so the prefix cache serves it",
                ),
            ),
            effect_note="how much shorter it can be is a quality question; every token cut saves its prefill in each cache miss",
        )
    ]


def reordered_workload(ev: Evidence, structure: PromptStructure) -> Workload | None:
    """The logged sample with each prompt's static chunks moved before its varying ones (the fix)."""
    log = ev.requests
    if log is None or log.chars_per_token is None:
        return None
    requests = log.sample.requests
    texts = [structure.reordered(r.text or "") for r in requests]
    blocks = text_prefix_blocks(
        texts, [r.prompt_tokens for r in requests], log.sample.hash_block_size, log.chars_per_token
    )
    moved = tuple(
        r.model_copy(update={"text": t, "prefix_block_ids": b})
        for r, t, b in zip(requests, texts, blocks, strict=True)
    )
    return log.sample.model_copy(
        update={"requests": moved, "name": log.sample.name + "-static-first", "digest": ""}
    )


def _dynamic_prefix_effect(ev: Evidence, structure: PromptStructure) -> tuple[Effect | None, str | None]:
    assert ev.requests is not None
    fixed = reordered_workload(ev, structure)
    if fixed is None:
        return None, "the sample has token ids, not text to reorder"
    engine = ev.engine_config.model_copy(update={"enable_prefix_caching": True})
    if ev.model is not None and ev.gpu is not None:
        return split_effect(
            ev.estimator.compare_runs(
                "static text first",
                engine,
                engine,
                (HIT_RATE, TTFT_MEAN),
                after_workload=(fixed, "static-first"),
            )
        )
    before = ev.requests.sample_stats.prefix_reuse.unbounded_token_fraction
    after = analyze(fixed, block_size=fixed.hash_block_size).prefix_reuse.unbounded_token_fraction
    metric = EffectMetric(name="prefix cache hit rate", unit="fraction", before=before, after=after)
    return (
        Effect(
            source="workload",
            summary=f"static text first: an unbounded prefix cache would serve {after or 0:.0%} of the prompt tokens instead of {before or 0:.0%}",
            metrics=(metric,),
            basis=f"{ev.requests.sample_note}, one at a time in arrival order; {ev.estimator.missing(simulate=True)} for TTFT",
        ),
        None,
    )


def check_dynamic_prefix(ev: Evidence) -> list[Hit]:
    assert ev.requests is not None
    structure = ev.requests.prompts
    if (
        structure is None
        or structure.blocked_static_fraction < BLOCKED_STATIC_FRACTION
        or structure.blocked_request_fraction < BLOCKED_REQUEST_FRACTION
    ):
        return []
    effect, note = _dynamic_prefix_effect(ev, structure)
    example = structure.example_blocking_text or ""
    return [
        Hit(
            severity="medium",
            confidence="medium",
            message=(
                f"in {structure.blocked_request_fraction:.0%} of the logged prompts, text that varies per request "
                f"(~{structure.mean_blocking_chars:,.0f} characters, e.g. {example!r}) comes before text they share "
                f"({structure.blocked_static_fraction:.0%} of all prompt characters): the prefix cache matches from the "
                "first token, so none of the shared text after it is ever reused"
            ),
            evidence=("requests",),
            observed={
                "static text share": round(structure.static_fraction, 4),
                "static text behind varying text": round(structure.blocked_static_fraction, 4),
                "requests affected": round(structure.blocked_request_fraction, 4),
                "example varying text": example,
            },
            fixes=(
                Fix(
                    kind="request",
                    target="messages",
                    value=None,
                    current=example,
                    text="put the static instructions first and the per-request text (ids, dates, user data) after "
                    "them, e.g. move it from the system message into the user message",
                ),
            ),
            effect=effect,
            effect_note=note,
        )
    ]


def _with_limits(ev: Evidence) -> tuple[np.ndarray, np.ndarray] | None:
    """(max_tokens, generated) of requests that set max_tokens and have a measured output."""
    assert ev.requests is not None
    c = ev.requests.columns
    keep = ~np.isnan(c.max_tokens) & ~np.isnan(c.output_tokens)
    if not keep.any():
        return None
    return c.max_tokens[keep], c.output_tokens[keep]


def check_no_stop(ev: Evidence) -> list[Hit]:
    assert ev.requests is not None
    columns = ev.requests.columns
    limits = _with_limits(ev)
    if not columns.has_sampling or limits is None:
        return []
    limit, generated = limits
    stop_fraction = float(columns.has_stop.mean())
    ran_out = generated >= limit
    ran_out_fraction = float(ran_out.mean())
    if stop_fraction >= NO_STOP_FRACTION or ran_out_fraction < RAN_TO_LIMIT_FRACTION:
        return []
    token_share = float(generated[ran_out].sum() / generated.sum())
    return [
        Hit(
            severity="medium",
            confidence="medium",
            message=(
                f"{1 - stop_fraction:.0%} of the logged requests set no stop sequence and {ran_out_fraction:.0%} "
                f"generated until max_tokens ({token_share:.0%} of all output tokens): the answer ends where the "
                "limit cuts it, not where the task is done, so the tokens after it are paid in ITL and cost"
            ),
            evidence=("requests",),
            observed={
                "requests with stop": stop_fraction,
                "requests that ran to max_tokens": ran_out_fraction,
                "their share of output tokens": token_share,
            },
            fixes=(
                Fix(
                    kind="request",
                    target="stop",
                    value=None,
                    text='set "stop" to the sequence that ends a complete answer (e.g. ["}"] after a JSON object, '
                    '["\\n\\n"] after one paragraph)',
                ),
            ),
            effect_note="where a stop sequence would end each answer is in the task, not in the log",
        )
    ]


def fitted_max_tokens(generated: np.ndarray) -> int:
    """A max_tokens that cuts no logged answer: the next power of two above 1.25x the longest, at least 16."""
    return max(16, 2 ** math.ceil(math.log2(1.25 * float(generated.max()))))


def check_max_tokens(ev: Evidence) -> list[Hit]:
    limits = _with_limits(ev)
    if limits is None:
        return []
    limit, generated = limits
    p50_limit, p99_generated = float(np.percentile(limit, 50)), float(np.percentile(generated, 99))
    value = fitted_max_tokens(generated)
    if (
        p50_limit < MAX_TOKENS_OVER_P99 * p99_generated
        or (generated >= limit).mean() >= 0.05
        or value >= p50_limit
    ):
        return []
    return [
        Hit(
            severity="low",
            confidence="medium",
            message=(
                f"max_tokens is {p50_limit:,.0f} (median) while the answers are at most {generated.max():,.0f} tokens "
                f"(p99 {p99_generated:,.0f}): a request that does not stop runs {p50_limit / max(1.0, p99_generated):,.0f}x "
                "longer than any real answer, and prompt + max_tokens must fit max_model_len"
            ),
            evidence=("requests",),
            observed={
                "max_tokens p50": p50_limit,
                "generated p99": p99_generated,
                "generated max": float(generated.max()),
            },
            fixes=(
                Fix(
                    kind="request",
                    target="max_tokens",
                    value=str(value),
                    current=f"{p50_limit:.0f}",
                    text=f"set max_tokens to {value} (above the longest logged answer)",
                ),
            ),
            effect_note="vLLM reserves no KV cache for max_tokens: the cost is in the requests that run away",
        )
    ]


def check_sampling(ev: Evidence) -> list[Hit]:
    assert ev.requests is not None
    columns = ev.requests.columns
    shape = task_shape(columns)
    if not columns.has_sampling or shape is None or not shape.is_short_and_fixed:
        return []
    temperature = np.nan_to_num(columns.temperature, nan=1.0)  # unset: the API's and vLLM's default 1.0
    hot = float((temperature > 0).mean())
    nucleus = float((np.nan_to_num(columns.top_p, nan=1.0) < 1).mean())
    if hot < SAMPLING_FRACTION and nucleus < SAMPLING_FRACTION:
        return []
    fixes = []
    if hot >= SAMPLING_FRACTION:
        fixes.append(
            Fix(
                kind="request", target="temperature", value="0", text="set temperature to 0 (greedy decoding)"
            )
        )
    if nucleus >= SAMPLING_FRACTION:
        fixes.append(Fix(kind="request", target="top_p", value="1", text="set top_p to 1 (or leave it out)"))
    return [
        Hit(
            severity="low",
            confidence="medium",
            message=(
                f"the task looks deterministic ({shape.describe()}: labels or fixed-format extraction) but "
                f"{hot:.0%} of the requests sample with temperature > 0"
                + (f" and {nucleus:.0%} with top_p < 1" if nucleus else "")
                + ": answers differ run to run and the sampler does work greedy decoding skips"
            ),
            evidence=("requests",),
            observed={"temperature > 0": hot, "top_p < 1": nucleus, "output p90 tokens": shape.output_p90},
            fixes=tuple(fixes),
            effect_note="the simulator does not model sampling cost; the gain is consistency more than speed",
        )
    ]


RULES = (
    Rule(
        "prompt-long-system-prompt",
        "long system prompt",
        "software",
        "a system prompt of 1,000+ tokens shared by most requests",
        (("requests",),),
        check_long_system_prompt,
    ),
    Rule(
        "prompt-dynamic-prefix",
        "varying text before the static part of prompts",
        "software",
        "text that differs per request placed before text the requests share",
        (("requests",),),
        check_dynamic_prefix,
    ),
    Rule(
        "prompt-no-stop",
        "no stop sequences, answers run to max_tokens",
        "software",
        "most requests set no stop and generate until max_tokens",
        (("requests",),),
        check_no_stop,
    ),
    Rule(
        "prompt-max-tokens-high",
        "max_tokens far above what is generated",
        "software",
        "median max_tokens 4x or more above the p99 of generated tokens",
        (("requests",),),
        check_max_tokens,
    ),
    Rule(
        "prompt-sampling-on-deterministic-task",
        "sampling on a deterministic task",
        "software",
        "temperature > 0 or top_p < 1 where outputs are short and fixed",
        (("requests",),),
        check_sampling,
    ),
)
