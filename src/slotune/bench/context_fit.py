"""Requests that cannot fit the server's context: refused before the run, or shortened to fit when asked.

vLLM serves a request only when its prompt and `max_tokens` fit in `max_model_len` (0.25 refuses a longer sum with
HTTP 400; 0.32 refuses a longer prompt and clamps `max_tokens`, which `min_tokens` then contradicts). Sent anyway,
such requests fail one by one and the run measures its own mistake; so a run is checked against the
`max_model_len` the server lists in `/v1/models` before the first measured request.
"""

from __future__ import annotations

from dataclasses import dataclass

from slotune.errors import InputError
from slotune.models import RequestSpec, Workload
from slotune.workload.digest import with_digest

CLIP_FLAG = "--clip-prompts"


@dataclass(frozen=True, slots=True)
class ContextFit:
    workload: Workload
    note: str | None = None  # what was shortened, for the run's warnings


def _too_long(spec: RequestSpec, max_model_len: int, overhead_tokens: int) -> bool:
    return max(spec.prompt_tokens, overhead_tokens + 1) + spec.output_tokens > max_model_len


def _clipped(spec: RequestSpec, max_model_len: int, overhead_tokens: int) -> RequestSpec | None:
    """The prompt shortened to leave room for the output, the output too where it alone does not fit; a real
    text or token-id prompt keeps its length, so only its output can give way (None: it cannot fit at all)."""
    fixed_prompt = spec.text is not None or spec.prompt_token_ids is not None
    min_prompt = spec.prompt_tokens if fixed_prompt else overhead_tokens + 1
    if min_prompt >= max_model_len:
        return None
    output = min(spec.output_tokens, max_model_len - min_prompt)
    prompt = (
        spec.prompt_tokens
        if fixed_prompt
        else max(min_prompt, min(spec.prompt_tokens, max_model_len - output))
    )
    return spec.model_copy(update={"prompt_tokens": prompt, "output_tokens": output})


def fit_to_context(
    workload: Workload, max_model_len: int | None, overhead_tokens: int, *, clip: bool
) -> ContextFit:
    """The workload as it can be sent to a server of `max_model_len` (None: unknown, nothing checked). Requests
    whose prompt and output do not fit are shortened with `clip`, else the run is refused (InputError)."""
    if max_model_len is None:
        return ContextFit(workload)
    long = [r for r in workload.requests if _too_long(r, max_model_len, overhead_tokens)]
    if not long:
        return ContextFit(workload)
    worst = max(long, key=lambda r: r.prompt_tokens + r.output_tokens)
    share = f"{len(long):,} of {len(workload.requests):,} workload requests"
    where = (
        f"prompt + output exceed the server's max_model_len {max_model_len:,} (longest: request "
        f"{worst.request_id}, {worst.prompt_tokens:,} + {worst.output_tokens:,} tokens)"
    )
    if not clip:
        raise InputError(
            "requests too long for the server",
            share,
            f"pass {CLIP_FLAG} to shorten their prompts to fit, or serve a longer context (--max-model-len with "
            "--engine vllm), or send shorter requests (--input-tokens/--output-tokens without a workload)",
            problem=where,
        )
    kept = [
        _clipped(r, max_model_len, overhead_tokens) if _too_long(r, max_model_len, overhead_tokens) else r
        for r in workload.requests
    ]
    requests = tuple(r for r in kept if r is not None)
    dropped = len(kept) - len(requests)
    if not requests:
        raise InputError(
            "requests too long for the server",
            share,
            "serve a longer context (--max-model-len with --engine vllm) or send shorter requests",
            problem=f"{where}; their prompts are real text, which cannot be shortened",
        )
    fitted = with_digest(workload.model_copy(update={"requests": requests}))
    left_out = f"; {dropped:,} with a text prompt longer than the context left out" if dropped else ""
    return ContextFit(fitted, f"{share} shortened to fit ({CLIP_FLAG}){left_out}: {where}")
