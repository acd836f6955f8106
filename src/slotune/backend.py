"""The one contract between the tuner/calibration and whatever runs a workload."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from slotune.models import SLO, EngineConfig, RunResult, Workload


@runtime_checkable
class Backend(Protocol):
    """Runs a workload on an engine configuration: the simulator, a real server over HTTP, a launched vLLM."""

    name: str

    def run(self, workload: Workload, engine_config: EngineConfig, *, slo: SLO | None = None) -> RunResult:
        """Run `workload`; the result's summary carries the SLO verdict (attainment, goodput) when given one."""
        ...
