"""From probe sets to a hardware profile: merge the sets, fit, and record how the profile was made."""

from __future__ import annotations

import hashlib
import math
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from slotune.calibrate.allreduce import AllreduceFit
from slotune.calibrate.fit import METHOD, FitResult, FitSetup, fit, probe_key
from slotune.calibrate.probes import samples
from slotune.errors import InputError
from slotune.models import HardwareProfile, ProfileCoefficients, ProfileProvenance
from slotune.models.calibration import ProbeData, ProbeServer, ProbeSet
from slotune.models.hardware_profile import CalibrationProbe, ProfileCalibration


def merge_probe_sets(sets: Sequence[ProbeSet]) -> ProbeSet:
    """One set from several of the same model and device (e.g. a default and an eager server probed at once
    on two GPUs); a mode probed twice keeps its first set's probes."""
    if not sets:
        raise InputError("from-probes", None, "give at least one probe file")
    first = sets[0]
    for other in sets[1:]:
        if (other.model_spec, other.gpu) != (first.model_spec, first.gpu):
            raise InputError(
                "from-probes",
                f"{other.model_spec} on {other.gpu}",
                f"give probe files of one model and device ({first.model_spec} on {first.gpu})",
            )
    servers: dict[str, ProbeServer] = {}
    probes: list[ProbeData] = []
    for s in sets:
        for server in s.servers:
            if server.mode in servers:
                continue
            servers[server.mode] = server
            probes += [p for p in s.probes if p.mode == server.mode]
    return first.model_copy(
        update={
            "servers": tuple(servers.values()),
            "probes": tuple(probes),
            "wall_s": sum(s.wall_s for s in sets),
        }
    )


def _calibration_probes(probes: Sequence[ProbeData], result: FitResult) -> tuple[CalibrationProbe, ...]:
    out = []
    for p in probes:
        key = probe_key(p)
        out.append(
            CalibrationProbe(
                name=p.name,
                kind=p.kind,
                mode=p.mode,
                num_requests=len(p.workload.requests),
                prompt_tokens=max(r.prompt_tokens for r in p.workload.requests),
                output_tokens=max(r.output_tokens for r in p.workload.requests),
                concurrency=p.concurrency,
                measured=result.measured.get(key, {}),
                predicted=result.predicted.get(key, {}),
                weights={s.name: s.weight for s in p.statistics},
                samples_s=samples(p.statistics, p.records),
                server_s={k: round(v, 6) for k, v in p.server_s.items()},
            )
        )
    return tuple(out)


def _version(coefficients: ProfileCoefficients, created: str) -> str:
    digest = hashlib.sha256(coefficients.model_dump_json().encode()).hexdigest()[:8]
    return f"{created[:10]}-{digest}"


def _fit_setup(probes: ProbeSet, prior: HardwareProfile) -> FitSetup:
    """The simulator as the probed servers ran: their model, device, flags and the KV pool vLLM reported."""
    from slotune.catalog import get_gpu, get_model

    if not probes.probes:
        raise InputError("from-probes", probes.model, "the probe files hold no probes: run the probes again")
    return FitSetup(
        model=get_model(probes.model_spec),
        gpu=get_gpu(probes.gpu),
        engine_configs={s.mode: s.engine_config for s in probes.servers},
        num_gpu_blocks={s.mode: s.num_gpu_blocks for s in probes.servers},
        prior=prior,
    )


def fit_profile(
    sets: Sequence[ProbeSet],
    *,
    prior: str | Path | None = None,
    name: str | None = None,
    allreduce: AllreduceFit | None = None,
    notes: Sequence[str] = (),
    max_evaluations: int = 400,
    model_spec: str | None = None,
) -> HardwareProfile:
    """The profile that best explains the probes (slotune.calibrate.fit), with everything it came from.
    `model_spec` replaces the probe sets' (e.g. the config.json of a model probed on another machine)."""
    from slotune.catalog import load_profile

    merged = merge_probe_sets(sets)
    if model_spec is not None:
        merged = merged.model_copy(update={"model_spec": model_spec})
    setup = _fit_setup(merged, load_profile(prior))
    gpu, model = setup.gpu, setup.model
    result = fit(setup, merged.probes, max_evaluations=max_evaluations)
    coefficients = result.coefficients
    fitted = result.fitted
    extra_notes = list(notes)
    if allreduce is not None:
        coefficients = coefficients.model_copy(
            update={
                "allreduce_latency_s": allreduce.allreduce_latency_s,
                "interconnect_efficiency": allreduce.interconnect_efficiency,
            }
        )
        fitted += ("allreduce_latency_s", "interconnect_efficiency")
        extra_notes.append(
            f"all-reduce terms from {allreduce.source} (tp={allreduce.tensor_parallel_size}, "
            f"{'inside CUDA graphs' if allreduce.graph else 'eager'}, {allreduce.num_rows} sizes, largest error "
            f"{allreduce.max_abs_relative_error:.0%})"
        )
    created = datetime.now(UTC).isoformat(timespec="seconds")
    versions = sorted({s.vllm_version for s in merged.servers if s.vllm_version})
    calibration = ProfileCalibration(
        vllm_version=", ".join(versions) or "unknown",
        model=merged.model,
        model_spec=model.name,
        hardware=gpu.name,
        device_name=gpu.device_name,
        host=merged.host or platform.node(),
        engine_flags={s.mode: tuple(s.engine_config.vllm_args()) for s in merged.servers},
        env={k: v for s in merged.servers if s.launch is not None for k, v in s.launch.env.items()},
        method=METHOD,
        fitted=fitted,
        probes=_calibration_probes(merged.probes, result),
        rms_log_error=result.rms_log_error,
        max_abs_relative_error=result.max_abs_relative_error,
        kv_cache_tokens={s.mode: s.kv_cache_tokens for s in merged.servers if s.kv_cache_tokens is not None},
        probe_wall_s=merged.wall_s,
        fit_wall_s=result.wall_s,
        notes=tuple(extra_notes),
    )
    return HardwareProfile(
        name=name or f"{gpu.name}-{model.name}",
        version=_version(coefficients, created),
        gpu=gpu.name,
        provenance=ProfileProvenance(
            method="calibrated",
            sources=(f"slotune calibrate: {len(merged.probes)} probes on vLLM {calibration.vllm_version}",),
            notes=f"fitted on {model.name} ({merged.model}) on {gpu.name}; {result.num_evaluations} evaluations",
            created=created,
            fitted_on={
                "engine": "vllm",
                "model": model.name,
                "gpu": gpu.name,
                "vllm": calibration.vllm_version,
            },
        ),
        # The engine rules (slotune.vllm_versions) of the release the probes ran on.
        **({"vllm_version": versions[0]} if len(versions) == 1 else {}),
        coefficients=coefficients,
        calibration=calibration,
    )


def server_speed(profile: HardwareProfile, probes: ProbeSet, *, model_spec: str | None = None) -> float:
    """How fast the probed server ran against what `profile` predicts for the same probes: the geometric mean
    of predicted / measured over the probes' engine-side statistics (vLLM's own prefill and inter-token times,
    which the client's queueing does not touch; every statistic where the server publishes none). 1 = as
    fast as the profile, 0.7 = its steps took 1/0.7 as long. Servers of one machine started minutes apart
    differ (docs/fidelity.md); this is how much, measured on the probes and never on the validation runs."""
    from slotune.calibrate.fit import measured, simulate_probe

    if model_spec is not None:
        probes = probes.model_copy(update={"model_spec": model_spec})
    setup = _fit_setup(probes, profile)
    logs: list[float] = []
    for run in probes.probes:
        engine_side = {s.name for s in run.statistics if s.source == "server"}
        predicted = simulate_probe(setup, profile, run)
        for name, value in measured(run).items():
            if (not engine_side or name in engine_side) and predicted.get(name) and value > 0:
                logs.append(math.log(predicted[name] / value))
    if not logs:
        raise InputError(
            "from-probes", probes.model, "no probe statistic could be compared: run the probes again"
        )
    return math.exp(sum(logs) / len(logs))
