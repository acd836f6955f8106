"""The one call behind `slotune simulate`: resolve names and inputs, run the simulator, summarize."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from slotune.errors import InputError
from slotune.metrics import RunSummary
from slotune.models import SLO, EngineConfig, RunResult, Workload
from slotune.models.base import Frozen
from slotune.simulate.simulator import Simulator
from slotune.simulate.trace import write_chrome_trace

log = logging.getLogger(__name__)


class SimulationReport(Frozen):
    result: RunResult
    summary: RunSummary
    engine: dict[str, float | int | None] = Field(default_factory=dict)
    trace_path: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """What `--json` prints: everything but per-request records and the timeline."""
        return {
            "provenance": self.result.provenance.model_dump(mode="json"),
            "engine_config": None
            if self.result.engine_config is None
            else self.result.engine_config.model_dump(mode="json"),
            "num_requests": self.result.num_requests,
            "duration_s": self.result.duration_s,
            "summary": self.summary.model_dump(mode="json"),
            "engine": self.engine,
            "trace_path": self.trace_path,
        }


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
    return workload.model_copy(update={"requests": tuple(reqs), "digest": ""})


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
    result = sim.run(workload, engine_config, slo=slo, on_progress=on_progress)
    assert sim.last_summary is not None and sim.last_engine_stats is not None
    if trace_path is not None:
        write_chrome_trace(result, trace_path)
    return SimulationReport(
        result=result,
        summary=sim.last_summary,
        engine={k: v for k, v in sim.last_engine_stats.as_dict().items() if k != "num_fast_steps"},
        trace_path=None if trace_path is None else str(trace_path),
    )
