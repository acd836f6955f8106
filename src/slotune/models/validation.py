"""`slotune validate`: one workload under one load on the real engine and on the simulator, and how far apart.

Errors are relative, simulated / measured - 1, for each latency metric's mean, p50, p90 and p99, for the
throughputs, for the KV capacity (the planner's and the simulator's against what vLLM reported) and for the
preemptions (the simulator's against vLLM's counter). The two runs are kept without their per-request
records; what the report's overlays need of them is in `measured_plot` / `simulated_plot`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from slotune.models.base import Frozen
from slotune.models.records import RunResult
from slotune.models.reports import RunPlotData, SavedResult

LATENCY_METRICS = ("ttft", "itl", "tpot", "e2e")
LATENCY_STATS = ("mean", "p50", "p90", "p99")


class MetricError(Frozen):
    metric: str  # ttft, itl, tpot, e2e, output_throughput, request_throughput, kv_capacity_*, preemptions
    stat: str = ""  # mean, p50, p90, p99 for latencies
    unit: Literal["s", "tok/s", "req/s", "tokens", "count"] = "s"
    measured: float | None = None
    simulated: float | None = None

    @property
    def relative_error(self) -> float | None:
        """simulated / measured - 1 (None where either side is missing or the measured value is 0)."""
        if self.measured is None or self.simulated is None or self.measured == 0:
            return None
        return self.simulated / self.measured - 1.0

    @property
    def key(self) -> str:
        return f"{self.metric}.{self.stat}" if self.stat else self.metric


class KvCapacityCheck(Frozen):
    """KV capacity in tokens: what vLLM reported (its log or /metrics) against the planner and the simulator."""

    vllm_tokens: int | None = None
    planner_tokens: int | None = None
    simulator_tokens: int | None = None
    source: str = ""  # where vLLM's number came from

    def error(self, which: Literal["planner", "simulator"]) -> float | None:
        ours = self.planner_tokens if which == "planner" else self.simulator_tokens
        if ours is None or not self.vllm_tokens:
            return None
        return ours / self.vllm_tokens - 1.0


class ValidationReport(SavedResult):
    SCHEMA_VERSION: ClassVar[int] = 1
    kind: Literal["validate"] = "validate"
    schema_version: int = SCHEMA_VERSION
    profile: str  # label of the hardware profile the simulator ran with
    profile_path: str = ""
    measured: RunResult
    simulated: RunResult
    errors: tuple[MetricError, ...]
    kv: KvCapacityCheck
    measured_plot: RunPlotData | None = None
    simulated_plot: RunPlotData | None = None
    # Load average of the machine that ran the engine, around the measured run (1-minute, before / after).
    host_load: tuple[float, float] | None = None
    wall_s: float = 0.0
    command: tuple[str, ...] = ()

    def error(self, metric: str, stat: str = "") -> float | None:
        for e in self.errors:
            if e.metric == metric and e.stat == stat:
                return e.relative_error
        return None
