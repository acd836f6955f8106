"""A fake engine for the calibration tests: the simulator itself with a known ("true") profile.

Probes "measured" on it give the records the simulator produces with the true coefficients, and the server's
histogram means as vLLM defines them; a fit that starts elsewhere must find the true coefficients again.
"""

from __future__ import annotations

from pathlib import Path

from slotune.calibrate.probes import Mode, Probe, engine_side
from slotune.catalog import get_gpu, get_model
from slotune.models import EngineConfig, HardwareProfile
from slotune.models.calibration import ProbeData, ProbeServer, ProbeSet, ProbeStatistic
from slotune.simulate import Simulator

TINY_CONFIG = str(Path(__file__).resolve().parents[1] / "data" / "configs" / "tiny-llama.json")
GPU = "cpu-epyc-2c"
BLOCKS = 16384
SERVER = {"itl": "itl_s", "prefill": "prefill_time_s"}


def measured_on_simulator(
    profile: HardwareProfile, probe: Probe, mode: Mode, config: EngineConfig
) -> ProbeData:
    sim = Simulator(get_model(TINY_CONFIG), get_gpu(GPU), profile=profile, num_gpu_blocks=BLOCKS)
    result = sim.run(probe.workload, config, load=probe.load)
    server = {
        SERVER[m]: value
        for m in SERVER
        if (value := engine_side(ProbeStatistic(metric=m, source="server"), result.records)) is not None  # type: ignore[arg-type]
    }
    return ProbeData(
        name=probe.name,
        kind=probe.kind,
        mode=mode,
        workload=probe.workload,
        load=probe.load,
        statistics=probe.statistics,
        concurrency=probe.concurrency,
        records=result.records,
        server_s=server,
    )


def probe_set(data: list[ProbeData], configs: dict[str, EngineConfig]) -> ProbeSet:
    return ProbeSet(
        model="tiny-llama",
        model_spec=TINY_CONFIG,
        gpu=GPU,
        scale="quick",
        servers=tuple(
            ProbeServer(
                mode=m,
                engine_config=c,
                vllm_version="0.32.0",
                num_gpu_blocks=BLOCKS,
                kv_cache_tokens=BLOCKS * 32,
            )  # type: ignore[arg-type]
            for m, c in configs.items()
        ),
        probes=tuple(data),
    )
