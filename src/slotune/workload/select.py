"""The workload of a `simulate` or `bench` run: a file, or a preset synthesized for the run's load.

Both commands call `select_workload`, so the same command line gives both the same requests. A preset is a
generator, not a file: for an open loop or a replay it is synthesized with the load's arrival process (an
open loop's rate, `--arrival` and `--cv`; a replay's preset rate) for the measured amount plus the warm-up,
and sent at its own times, so every request is new; the load returned is then a replay of it. For a
closed loop it is a pool of lengths that the users draw from.
"""

from __future__ import annotations

import logging
from pathlib import Path

from slotune.errors import InputError
from slotune.load.size import (
    DEFAULT_REQUEST_LIMIT,
    amount_flags_of,
    check_run_size,
    mean_output_tokens,
    planned_requests,
)
from slotune.models import LoadSpec, Workload
from slotune.workload.io import read_workload
from slotune.workload.presets import PRESETS
from slotune.workload.synth import synthesize

log = logging.getLogger(__name__)

# A preset run given neither --num-requests nor --duration measures this many seconds of arrivals.
DEFAULT_PRESET_DURATION_S = 60.0
# A closed loop's pool of preset requests, drawn in turn (more when --num-requests asks for more).
CLOSED_LOOP_POOL = 1000


def select_workload(
    path: Path | None,
    preset: str | None,
    load: LoadSpec,
    *,
    seed: int,
    fmt: str | None = None,
    tokenizer_path: str | None = None,
    request_limit: int = DEFAULT_REQUEST_LIMIT,
) -> tuple[Workload, LoadSpec]:
    """(workload, load to run it with) from exactly one of a workload file and a preset name; a run of more
    than `request_limit` requests, or one that would not fit in memory, is refused before anything is drawn
    (slotune.load.size)."""
    if (path is None) == (preset is None):
        raise InputError("--workload", path or preset, "give exactly one of --workload FILE or --preset NAME")
    if preset is not None:
        _check_preset_size(preset, load, request_limit)
        return preset_workload(preset, load, seed=seed)
    assert path is not None
    if not path.exists():
        raise InputError("--workload", str(path), "give an existing workload or trace file")
    workload = read_workload(path, fmt=fmt, tokenizer_path=tokenizer_path)
    planned = planned_requests(load, workload_requests=len(workload.requests))
    check_run_size(
        planned,
        limit=request_limit,
        mean_output_tokens=mean_output_tokens(workload.requests),
        amount_flags=amount_flags_of(load),
    )
    if load.kind == "replay" and len(workload.requests) > 1 and workload.duration_s <= 0:
        log.warning(
            "%s has no arrival times: replaying it sends all %d requests at once (give --rate or --concurrency "
            "for a steady load)",
            workload.name,
            len(workload.requests),
        )
    return workload, load


def _check_preset_size(preset: str, load: LoadSpec, request_limit: int) -> None:
    spec = PRESETS.get(preset)
    if spec is None:
        return  # synthesize names the presets
    if load.kind != "concurrency" and load.num_requests is None and load.duration_s is None:
        load = load.model_copy(update={"duration_s": DEFAULT_PRESET_DURATION_S})
    planned = planned_requests(load, replay_rate_rps=spec.default_rate_rps)
    check_run_size(
        planned,
        limit=request_limit,
        mean_output_tokens=spec.mean_output_tokens(),
        amount_flags=amount_flags_of(load),
    )


def preset_workload(preset: str, load: LoadSpec, *, seed: int) -> tuple[Workload, LoadSpec]:
    if load.kind == "concurrency":
        pool = max(load.num_requests or 0, CLOSED_LOOP_POOL)
        return synthesize(preset=preset, num_requests=pool, seed=seed), load
    rate, arrival, cv = load.rate_rps, load.arrival, load.cv
    if arrival == "trace":
        arrival, cv = "gamma", None  # a preset's own gaps: gamma at the preset's CV

    def synth(**amount: float | int) -> Workload:
        return synthesize(preset=preset, rate_rps=rate, arrival=arrival, cv=cv, seed=seed, **amount)  # type: ignore[arg-type]

    scale = load.time_scale
    if load.num_requests is not None:
        # The warm-up's requests come first; times before a horizon do not depend on the count drawn.
        num_warm = len(synth(duration_s=load.warmup_s / scale).requests) if load.warmup_s > 0 else 0
        workload = synth(num_requests=num_warm + load.num_requests)
    else:
        window_s = load.duration_s if load.duration_s is not None else DEFAULT_PRESET_DURATION_S
        workload = synth(duration_s=(load.warmup_s + window_s) / scale)
    replay = LoadSpec(
        kind="replay",
        time_scale=scale,
        num_requests=load.num_requests,
        duration_s=load.duration_s,
        warmup_s=load.warmup_s,
    )
    return workload, replay
