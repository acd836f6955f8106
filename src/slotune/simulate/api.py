"""The one call behind `slotune simulate`: resolve names and inputs, run the simulator, summarize."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from slotune.errors import InputError
from slotune.models import SLO, EngineConfig, GpuSpec, PriceBook, PriceUsed, RunResult, Workload
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
    prices: PriceBook | None = None,
) -> SimulationReport:
    """Simulate `workload` on `model` (catalog id, HF id or config.json path) served by vLLM on `gpu`.

    The run is priced at the user's price for the GPU (`prices`), else the catalog's; every GPU of the replica
    (tensor x pipeline parallel) is paid for. A GPU without a price gives a run without a cost, unless the SLO
    has a cost target (InputError)."""
    from slotune.catalog import get_gpu, get_model

    gpu_spec = get_gpu(gpu)
    price = _price(gpu_spec, prices, slo)
    sim = Simulator(get_model(model), gpu_spec, profile=profile, seed=seed)
    started = time.perf_counter()
    result = _priced(sim.run(workload, engine_config, slo=slo, on_progress=on_progress), gpu_spec, price)
    wall_s = time.perf_counter() - started
    if trace_path is not None:
        write_chrome_trace(result, trace_path)
    return stamped(
        SimulationReport(
            result=result, trace_path=None if trace_path is None else str(trace_path), wall_s=wall_s
        )
    )


def _price(gpu: GpuSpec, prices: PriceBook | None, slo: SLO | None) -> PriceUsed | None:
    from slotune.catalog.prices import price_for, require_price

    if slo is not None and any(t.metric == "cost" for t in slo.targets):
        return require_price(gpu, prices, "the SLO has a cost target")
    return price_for(gpu, prices)


def _priced(result: RunResult, gpu: GpuSpec, price: PriceUsed | None) -> RunResult:
    from slotune.catalog.prices import missing_price
    from slotune.metrics.summary import with_cost

    num_gpus = result.engine_config.num_gpus if result.engine_config is not None else 1
    missing = missing_price(gpu.name) if price is None else None
    return result.model_copy(update={"summary": with_cost(result.summary, price, num_gpus, missing=missing)})
