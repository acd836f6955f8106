"""Synthesize a workload from a preset or from a profile fitted to a real trace. Same inputs, same seed,
same workload (and so the same canonical file, byte for byte)."""

from __future__ import annotations

import math

import numpy as np

from slotune.errors import InputError
from slotune.load.arrivals import DRAWN_ARRIVALS, arrival_times_s
from slotune.load.size import DEFAULT_REQUEST_LIMIT, check_run_size, count_of, mean_output_tokens
from slotune.models import RequestSpec, SamplingParams, Workload
from slotune.workload.digest import with_digest
from slotune.workload.presets import PRESETS, Preset
from slotune.workload.profile import DrawnRequest, draw_requests, fit_profile

PRESET_BLOCK_SIZE = 16
# Arrival times are kept to the microsecond: compact files, and exact round trips through JSON.
ARRIVAL_DECIMALS = 6


def _check_args(
    *,
    preset: str | None,
    profile: Workload | None,
    rate_rps: float | None,
    duration_s: float | None,
    num_requests: int | None,
    arrival: str,
    cv: float | None,
) -> None:
    if (preset is None) == (profile is None):
        raise InputError(
            "--preset/--profile",
            None if preset is None else f"{preset} and a profile",
            f"give exactly one: --preset ({', '.join(PRESETS)}) or --profile TRACE_FILE",
        )
    if preset is not None and preset not in PRESETS:
        raise InputError("--preset", preset, f"use one of: {', '.join(PRESETS)}", problem="unknown preset")
    if rate_rps is not None and not (math.isfinite(rate_rps) and rate_rps > 0):
        raise InputError("--rate", rate_rps, "give a positive rate in requests per second")
    if (duration_s is None) == (num_requests is None):
        raise InputError(
            "--duration/--num-requests",
            None if duration_s is None else f"{duration_s} s and {num_requests} requests",
            "give exactly one of --duration S or --num-requests N",
        )
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise InputError("--duration", duration_s, "give a positive duration in seconds")
    if num_requests is not None and num_requests < 1:
        raise InputError("--num-requests", num_requests, "give at least 1 request")
    if arrival not in DRAWN_ARRIVALS:
        raise InputError("--arrival", arrival, f"use one of: {', '.join(DRAWN_ARRIVALS)}", problem="unknown")
    if cv is not None and arrival != "gamma":
        raise InputError(
            "--cv", cv, "add --arrival gamma: the CV shapes gamma arrivals only (Poisson has CV 1)"
        )
    if cv is not None and not (math.isfinite(cv) and cv > 0):
        raise InputError("--cv", cv, "give a positive coefficient of variation (1 = Poisson, > 1 = bursty)")


def _arrivals(
    rng: np.random.Generator,
    *,
    rate_rps: float | None,
    arrival: str,
    cv: float | None,
    num_requests: int | None,
    duration_s: float | None,
) -> np.ndarray:
    if rate_rps is None:
        # An offline batch: everything at t=0.
        if duration_s is not None or arrival != "poisson" or cv is not None:
            raise InputError(
                "--rate",
                None,
                "give --rate R: this preset or profile is an offline batch (all requests at t=0), so "
                "--duration and --arrival need a rate; or use --num-requests alone",
            )
        assert num_requests is not None
        return np.zeros(num_requests)
    times = arrival_times_s(
        rng, rate_rps=rate_rps, kind=arrival, cv=cv, num_requests=num_requests, duration_s=duration_s
    )
    return np.round(times, ARRIVAL_DECIMALS)


def _preset_draws(p: Preset, rng: np.random.Generator, n: int) -> list[DrawnRequest]:
    bs = PRESET_BLOCK_SIZE
    body = p.prompt.sample(rng, n)
    output = p.output.sample(rng, n)
    system_blocks = p.system_prompt_tokens // bs
    next_id = system_blocks
    doc_tokens = np.zeros(n, dtype=np.int64)
    doc_first = np.zeros(n, dtype=np.int64)
    if p.documents is not None:
        pool = p.documents
        lengths = np.maximum(pool.lengths.sample(rng, pool.num_documents) // bs, 1) * bs
        popularity = np.arange(1, pool.num_documents + 1, dtype=np.float64) ** -pool.zipf_s
        picks = rng.choice(pool.num_documents, size=n, p=popularity / popularity.sum())
        first_ids = next_id + np.concatenate(([0], np.cumsum(lengths // bs)[:-1]))
        next_id += int(lengths.sum() // bs)
        doc_tokens, doc_first = lengths[picks], first_ids[picks]
    has_structure = p.system_prompt_tokens > 0 or p.documents is not None
    sampling = SamplingParams(temperature=p.temperature) if p.temperature is not None else None
    draws = []
    for i in range(n):
        ids: tuple[int, ...] = ()
        if has_structure:
            body_blocks = -(-int(body[i]) // bs)
            doc_blocks = int(doc_tokens[i]) // bs
            ids = (
                *range(system_blocks),
                *range(int(doc_first[i]), int(doc_first[i]) + doc_blocks),
                *range(next_id, next_id + body_blocks),
            )
            next_id += body_blocks
        draws.append(
            DrawnRequest(
                prompt_tokens=p.system_prompt_tokens + int(doc_tokens[i]) + int(body[i]),
                output_tokens=int(output[i]),
                is_output_estimated=False,
                prefix_block_ids=ids,
                sampling=sampling,
                system_prompt_tokens=p.system_prompt_tokens or None,
            )
        )
    return draws


def synthesize(
    *,
    preset: str | None = None,
    profile: Workload | None = None,
    rate_rps: float | None = None,
    duration_s: float | None = None,
    num_requests: int | None = None,
    seed: int = 0,
    arrival: str = "poisson",
    cv: float | None = None,
    request_limit: int = DEFAULT_REQUEST_LIMIT,
) -> Workload:
    """A workload from a preset (see PRESETS) or fitted to `profile`.

    Rate defaults to the preset's or the trace's mean rate; gamma arrivals default to its CV. Without any
    rate (offline-batch, or a trace without arrival times) every request arrives at t=0. More than
    `request_limit` requests, or more than fit in memory, are refused before any is drawn.
    """
    _check_args(
        preset=preset,
        profile=profile,
        rate_rps=rate_rps,
        duration_s=duration_s,
        num_requests=num_requests,
        arrival=arrival,
        cv=cv,
    )
    rng = np.random.default_rng(seed)
    default_cv: float | None
    if preset is not None:
        p = PRESETS[preset]
        rate, default_cv, block_size, name = rate_rps or p.default_rate_rps, p.cv, PRESET_BLOCK_SIZE, preset
    else:
        assert profile is not None
        fitted = fit_profile(profile)
        rate, default_cv = rate_rps or fitted.rate_rps, fitted.cv
        block_size, name = fitted.hash_block_size, f"{profile.name}-profile"
    if arrival == "gamma" and cv is None:
        if default_cv is None:
            raise InputError("--cv", None, "give --cv X: the profile has no arrival times to take a CV from")
        cv = default_cv
    planned = num_requests if num_requests is not None else count_of((rate or 0.0) * (duration_s or 0.0))
    mean_output = (
        PRESETS[preset].mean_output_tokens()
        if preset
        else mean_output_tokens(profile.requests if profile else ())
    )
    check_run_size(planned, limit=request_limit, mean_output_tokens=mean_output, what="the workload")
    times = _arrivals(
        rng, rate_rps=rate, arrival=arrival, cv=cv, num_requests=num_requests, duration_s=duration_s
    )
    draws = (
        _preset_draws(PRESETS[preset], rng, len(times)) if preset else draw_requests(fitted, rng, len(times))
    )
    requests = tuple(
        RequestSpec(
            request_id=str(i),
            arrival_s=float(t),
            prompt_tokens=d.prompt_tokens,
            output_tokens=d.output_tokens,
            is_output_estimated=d.is_output_estimated,
            prefix_block_ids=d.prefix_block_ids,
            sampling=d.sampling,
            system_prompt_tokens=d.system_prompt_tokens,
        )
        for i, (t, d) in enumerate(zip(times, draws, strict=True))
    )
    what = f"preset={preset}" if preset else f"profile={profile.source if profile else ''}"
    rate_text = "batch" if rate is None else f"{rate:g}"
    cv_text = f" cv={cv:g}" if arrival == "gamma" and cv is not None else ""
    workload = Workload(
        name=name,
        requests=requests,
        hash_block_size=block_size,
        source=f"synth:{what} rate_rps={rate_text} arrival={arrival}{cv_text} seed={seed}",
    )
    return with_digest(workload)
