"""One summary of a run, the same model for every backend (definitions in docs/slo.md and docs/metrics.md)."""

from __future__ import annotations

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.cost import CostReport
from slotune.models.distribution import Distribution


class TargetResult(Frozen):
    metric: str
    stat: str
    threshold: float
    observed: float | None
    passed: bool
    # Latency targets: requests whose own value is over the threshold, failed requests included (the ones this
    # term keeps from attainment; slotune.slo.evaluate). None for throughput and cost, and in older results.
    num_missed: int | None = None


class RunSummary(Frozen):
    """What the requests of a run saw, computed from its RequestRecords (client view), whatever ran them."""

    num_requests: int
    num_ok: int
    num_failed: int
    failures_by_reason: dict[str, int] = Field(default_factory=dict)
    duration_s: float
    request_throughput_rps: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    prompt_tokens: int
    cached_prompt_tokens: int
    output_tokens: int
    num_preemptions: int
    ttft_s: Distribution
    itl_s: Distribution
    tpot_s: Distribution
    e2e_s: Distribution
    slo_name: str | None = None
    slo_attainment: float | None = None
    attainment_target: float | None = None
    goodput_rps: float | None = None
    goodput_output_tokens_per_s: float | None = None
    targets: tuple[TargetResult, ...] = ()
    slo_met: bool | None = None
    # The run's cost at the deployment's GPU price (slotune.cost.run_cost); None where nobody asked for one.
    cost: CostReport | None = None
    # Streamed simulations read percentiles from quantile sketches: their relative error bound (None = exact).
    quantile_relative_error: float | None = None

    @property
    def usd_per_mtok(self) -> float | None:
        """$ per million output tokens at the measured throughput (None: no price, or nothing produced)."""
        return None if self.cost is None else self.cost.usd_per_mtok
