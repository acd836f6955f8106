"""The one call behind `slotune simulate`: resolve names and inputs, run the simulator, summarize."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from slotune.models import SLO, EngineConfig, LoadSpec, Workload
from slotune.models.reports import SimulationReport
from slotune.results import stamped
from slotune.simulate.simulator import Simulator
from slotune.simulate.trace import write_chrome_trace
from slotune.workload.digest import with_digest

log = logging.getLogger(__name__)


def simulate(
    model: str,
    gpu: str,
    workload: Workload,
    engine_config: EngineConfig,
    *,
    load: LoadSpec | None = None,
    slo: SLO | None = None,
    seed: int = 0,
    profile: str | Path | None = None,
    trace_path: str | Path | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> SimulationReport:
    """Simulate `workload` under `load` (default: replayed at its own times) on `model` (catalog id, HF id or
    config.json path) served by vLLM on `gpu`. The result records the digest of the whole workload."""
    from slotune.catalog import get_gpu, get_model

    workload = with_digest(workload)
    sim = Simulator(get_model(model), get_gpu(gpu), profile=profile, seed=seed)
    started = time.perf_counter()
    result = sim.run(workload, engine_config, load=load, slo=slo, on_progress=on_progress)
    wall_s = time.perf_counter() - started
    if trace_path is not None:
        write_chrome_trace(result, trace_path)
    return stamped(
        SimulationReport(
            result=result, trace_path=None if trace_path is None else str(trace_path), wall_s=wall_s
        )
    )
