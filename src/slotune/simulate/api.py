"""The one call behind `slotune simulate`: resolve names and inputs, run the simulator, summarize."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from slotune.errors import InputError
from slotune.models import SLO, EngineConfig, Workload
from slotune.models.reports import SimulationReport
from slotune.results import stamped
from slotune.simulate.simulator import Simulator
from slotune.simulate.trace import write_chrome_trace
from slotune.workload.digest import with_digest

log = logging.getLogger(__name__)


def select_workload(
    workload: Workload, *, rate_rps: float | None, duration_s: float | None, num_requests: int | None
) -> Workload:
    """Scale a trace to a mean arrival rate (keeping its burstiness) and cut it to a duration or request count."""
    reqs = sorted(workload.requests, key=lambda r: r.arrival_s)
    if not reqs:
        raise InputError("workload", workload.name, "the workload has no requests")
    if rate_rps is not None:
        if rate_rps <= 0:
            raise InputError("rate", rate_rps, "give a positive rate in requests per second")
        span = reqs[-1].arrival_s - reqs[0].arrival_s
        if span <= 0:
            raise InputError("rate", rate_rps, "every request arrives at once; --rate needs arrival times")
        scale = (len(reqs) - 1) / span / rate_rps
        t0 = reqs[0].arrival_s
        reqs = [r.model_copy(update={"arrival_s": (r.arrival_s - t0) * scale}) for r in reqs]
    if duration_s is not None:
        if duration_s <= 0:
            raise InputError("duration", duration_s, "give a positive duration in seconds")
        t0 = reqs[0].arrival_s
        reqs = [r for r in reqs if r.arrival_s - t0 < duration_s]
    if num_requests is not None:
        if num_requests <= 0:
            raise InputError("num_requests", num_requests, "give a positive number of requests")
        reqs = reqs[:num_requests]
    if len(reqs) == len(workload.requests) and rate_rps is None:
        return workload
    return with_digest(workload.model_copy(update={"requests": tuple(reqs)}))


def simulate(
    model: str,
    gpu: str,
    workload: Workload,
    engine_config: EngineConfig,
    *,
    slo: SLO | None = None,
    seed: int = 0,
    profile: str | Path | None = None,
    trace_path: str | Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SimulationReport:
    """Simulate `workload` on `model` (catalog id, HF id or config.json path) served by vLLM on `gpu`."""
    from slotune.catalog import get_gpu, get_model

    sim = Simulator(get_model(model), get_gpu(gpu), profile=profile, seed=seed)
    started = time.perf_counter()
    result = sim.run(workload, engine_config, slo=slo, on_progress=on_progress)
    wall_s = time.perf_counter() - started
    if trace_path is not None:
        write_chrome_trace(result, trace_path)
    return stamped(
        SimulationReport(
            result=result, trace_path=None if trace_path is None else str(trace_path), wall_s=wall_s
        )
    )
