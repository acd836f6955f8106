"""The one call behind `slotune simulate`: resolve names and inputs, run the simulator, summarize, price."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from slotune.models import SLO, EngineConfig, GpuSpec, LoadSpec, PriceBook, PriceUsed, RunResult, Workload
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
    prices: PriceBook | None = None,
) -> SimulationReport:
    """Simulate `workload` under `load` (default: replayed at its own times) on `model` (catalog id, HF id or
    config.json path) served by vLLM on `gpu`. The result records the digest of the whole workload.

    The run is priced at the user's price for the GPU (`prices`), else the catalog's; every GPU of the replica
    (tensor x pipeline parallel) is paid for. A GPU without a price gives a run without a cost, unless the SLO
    has a cost target (InputError)."""
    from slotune.catalog import get_gpu, get_model

    workload = with_digest(workload)
    gpu_spec = get_gpu(gpu)
    price = _price(gpu_spec, prices, slo)
    sim = Simulator(get_model(model), gpu_spec, profile=profile, seed=seed)
    started = time.perf_counter()
    run = sim.run(workload, engine_config, load=load, slo=slo, on_progress=on_progress)
    result = _priced(run, gpu_spec, price)
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
