"""Service-level objectives: one model used by every phase (see slotune.slo for parsing and evaluation)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen

SLOMetric = Literal["ttft", "itl", "tpot", "e2e", "throughput", "cost"]


class SLOTarget(Frozen):
    metric: SLOMetric
    # "p99", "p90", "p50", "p99.9" or "mean"; throughput targets use "min" (at least).
    stat: str
    # Latency thresholds in seconds; throughput in output tokens/s; cost in USD per million tokens.
    threshold: float = Field(gt=0)

    @property
    def is_latency(self) -> bool:
        return self.metric in ("ttft", "itl", "tpot", "e2e")

    @property
    def percentile(self) -> float | None:
        if self.stat.startswith("p"):
            return float(self.stat[1:])
        return None


class SLO(Frozen):
    name: str = "custom"
    targets: tuple[SLOTarget, ...]
    # Fraction of requests that must meet every per-request latency threshold (goodput definition).
    attainment_target: float = Field(default=0.99, gt=0, le=1)
    # Offline/batch SLOs put throughput first: the tuner maximizes it subject to the targets.
    objective: Literal["latency", "throughput", "cost"] = "cost"
