"""`slotune calibrate`: probe a real vLLM, fit the simulator's cost model, write a hardware profile.

Two steps, each also usable alone: `collect_probes` starts a server per configuration ("default": the flags
given; "eager": the same with --enforce-eager), runs the probes (slotune.calibrate.probes) and returns them
as a `ProbeSet` (saved as it grows, so an interrupted run keeps what it measured); `fit_profile` fits one
profile from one or more probe sets (slotune.calibrate.fit) and records model, hardware, vLLM version,
flags, the probe data and the residuals in it.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slotune.calibrate.probes import (
    EngineLimits,
    Mode,
    Probe,
    Scale,
    decode_probe,
    first_probes,
    measured_value,
    mixed_probe,
    probe_plan,
)
from slotune.calibrate.runner import Endpoint, run_probes
from slotune.errors import InputError
from slotune.launch.backend import DEV_MODE_ENV, LaunchError
from slotune.launch.launcher import VllmLauncher
from slotune.models import EngineConfig
from slotune.models.calibration import ProbeData, ProbeServer, ProbeSet
from slotune.models.launch import LaunchFailure, LaunchInfo, ServerRequest

log = logging.getLogger(__name__)

ProbeCallback = Callable[[ProbeData], None]


@dataclass(frozen=True)
class ProbeJob:
    """What to probe: the model as the server loads it, the simulator's view of it, the device, the flags."""

    model: str
    model_spec: str
    gpu: str
    engine_config: EngineConfig
    modes: tuple[Mode, ...] = ("default", "eager")
    scale: Scale = "full"
    seed: int = 0
    tokenizer: str | None = None
    served_model_name: str | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def mode_config(config: EngineConfig, mode: Mode) -> EngineConfig:
    return config.model_copy(update={"enforce_eager": True}) if mode == "eager" else config


def probed_modes(job: ProbeJob) -> tuple[Mode, ...]:
    """The eager mode adds nothing when the flags given already say --enforce-eager."""
    if job.engine_config.enforce_eager:
        return tuple(m for m in job.modes if m == "default")
    return job.modes


def engine_limits(job: ProbeJob, config: EngineConfig, kv_cache_tokens: int | None) -> EngineLimits:
    """The limits vLLM applies to these flags on this device (slotune.vllm_rules, as vLLM resolves them)."""
    from slotune.catalog import get_gpu, get_model
    from slotune.vllm_rules import resolve_engine_config

    resolved = resolve_engine_config(get_model(job.model_spec), get_gpu(job.gpu), config)
    return EngineLimits(
        max_model_len=resolved.max_model_len,
        max_num_seqs=resolved.max_num_seqs,
        max_num_batched_tokens=resolved.max_num_batched_tokens,
        block_size=resolved.block_size,
        kv_cache_tokens=kv_cache_tokens,
    )


def _step_estimate_s(probes: Sequence[ProbeData], batch: int) -> float:
    """The measured decode step (median TPOT) of the decode probe whose batch is closest to `batch`."""
    decode = [p for p in probes if p.kind == "decode" and p.mode == "default"]
    if not decode:
        return 0.02
    best = min(
        decode, key=lambda p: (abs(p.concurrency - batch), max(r.prompt_tokens for r in p.workload.requests))
    )
    values = [
        measured_value(s, best.records, best.server_s) for s in best.statistics if s.metric in ("itl", "tpot")
    ]
    return next((v for v in values if v), 0.02)


def probes_for_mode(job: ProbeJob, limits: EngineLimits, mode: Mode) -> list[Probe]:
    return first_probes(limits, probe_plan(limits, job.scale), mode)


def warmup_probe(limits: EngineLimits) -> Probe:
    """A few requests before the measured probes (the first requests after a start are slow)."""
    return decode_probe(limits, min(8, limits.max_num_seqs), min(256, limits.max_model_len // 4), 16)


def probe_one_server(
    endpoint: Endpoint,
    job: ProbeJob,
    mode: Mode,
    config: EngineConfig,
    kv_cache_tokens: int | None,
    on_probe: ProbeCallback | None,
) -> list[ProbeData]:
    limits = engine_limits(job, config, kv_cache_tokens)
    run_probes(endpoint, [warmup_probe(limits)], mode, config, seed=job.seed + 10_000)
    probes = probes_for_mode(job, limits, mode)
    data = run_probes(endpoint, probes, mode, config, seed=job.seed, on_probe=on_probe)
    if mode == "default":
        plan = probe_plan(limits, job.scale)
        step_s = _step_estimate_s(data, plan.mixed_batch)
        quick = job.scale == "quick"
        mixed = mixed_probe(
            limits,
            plan.mixed_batch,
            plan.mixed_prompt_tokens,
            32 if quick else 128,
            step_s,
            2 if quick else 4,
        )
        data += run_probes(endpoint, [mixed], mode, config, seed=job.seed + len(probes), on_probe=on_probe)
    return data


def server_request(job: ProbeJob, mode: Mode) -> ServerRequest:
    return ServerRequest(
        model=job.model,
        served_model_name=job.served_model_name,
        engine_config=mode_config(job.engine_config, mode),
        extra_args=job.extra_args,
        env={**DEV_MODE_ENV, **job.env},  # /reset_prefix_cache between probes
    )


def _probe_server(
    mode: Mode, config: EngineConfig, info: LaunchInfo | None, blocks: int | None, tokens: int | None
) -> ProbeServer:
    return ProbeServer(
        mode=mode,
        engine_config=config,
        launch=info,
        vllm_version=info.vllm_version if info is not None else "",
        num_gpu_blocks=blocks,
        kv_cache_tokens=tokens,
    )


class ProbeSetWriter:
    """Keeps the probe set growing on disk (atomically), so an interrupted calibration keeps its probes."""

    def __init__(self, path: Path | None, header: ProbeSet) -> None:
        self.path = path
        self.set = header

    def add(self, *, server: ProbeServer | None = None, probe: ProbeData | None = None) -> None:
        update: dict[str, object] = {}
        if server is not None:
            update["servers"] = (*self.set.servers, server)
        if probe is not None:
            update["probes"] = (*self.set.probes, probe)
        self.set = self.set.model_copy(update=update)
        if self.path is not None:
            save_probe_set(self.set, self.path)


def collect_probes(
    launcher: VllmLauncher,
    job: ProbeJob,
    *,
    save_to: Path | None = None,
    on_probe: ProbeCallback | None = None,
) -> ProbeSet:
    """Start a server per mode, probe it, stop it. A server that does not start raises LaunchError."""
    started = time.perf_counter()
    writer = ProbeSetWriter(
        save_to,
        ProbeSet(
            model=job.model,
            model_spec=job.model_spec,
            gpu=job.gpu,
            scale=job.scale,
            seed=job.seed,
            host=platform.node(),
        ),
    )

    def keep(probe: ProbeData) -> None:
        writer.add(probe=probe)
        if on_probe is not None:
            on_probe(probe)

    for mode in probed_modes(job):
        request = server_request(job, mode)
        with launcher.launched(request) as server:
            if isinstance(server, LaunchFailure):
                raise LaunchError(server)
            facts = server.info.facts
            writer.add(
                server=_probe_server(
                    mode,
                    request.engine_config or EngineConfig(),
                    server.info,
                    facts.num_gpu_blocks,
                    facts.kv_cache_tokens,
                )
            )
            endpoint = Endpoint(server.base_url, server.served_model_name, tokenizer=job.tokenizer)
            probe_one_server(
                endpoint, job, mode, request.engine_config or EngineConfig(), facts.kv_cache_tokens, keep
            )
    return writer.set.model_copy(update={"wall_s": time.perf_counter() - started})


def save_probe_set(probes: ProbeSet, path: Path) -> None:
    """Write a probe set as JSON (to a temporary name, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(probes.model_dump_json(), encoding="utf-8")
    os.replace(tmp, path)


def load_probe_set(path: Path) -> ProbeSet:
    from pydantic import ValidationError

    from slotune.models.calibration import PROBE_SET_SCHEMA_VERSION

    if not path.is_file():
        raise InputError(
            "from-probes", str(path), "give a probe file written by `slotune calibrate --save-probes`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8 text
        raise InputError(
            "from-probes",
            str(path),
            "give a probe file written by `slotune calibrate --save-probes`",
            problem=str(exc),
        ) from exc
    if not isinstance(data, dict) or data.get("schema_version") != PROBE_SET_SCHEMA_VERSION:
        raise InputError(
            "from-probes",
            str(path),
            "run `slotune calibrate --save-probes` again with this slotune",
            problem=f"not a probe file of schema {PROBE_SET_SCHEMA_VERSION}",
        )
    try:
        return ProbeSet.model_validate(data)
    except ValidationError as exc:
        raise InputError.from_validation(
            exc, field=str(path), fix="run `slotune calibrate --save-probes` again", joiner=": "
        ) from exc
