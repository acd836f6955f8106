"""The SLO's latency terms as Prometheus sees them: which histogram, which edge, which error budget."""

from __future__ import annotations

from dataclasses import dataclass

from slotune.deploy.monitoring.series import SLO_HISTOGRAMS, go_float, series
from slotune.models.deploy import BucketAdvice, Deployment
from slotune.models.slo import SLOTarget


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One multi-window burn-rate alert (the SRE workbook's table, for a 30-day budget): fire when both the long
    and the short window burn the budget `factor` times faster than it lasts; the short window makes the alert
    stop soon after the burn stops."""

    name: str
    long: str
    short: str
    factor: float
    for_: str
    severity: str


BURN_WINDOWS = (
    BurnWindow("FastBurn", "1h", "5m", 14.4, "2m", "page"),  # 2% of the budget in an hour
    BurnWindow("SlowBurn", "6h", "30m", 6.0, "15m", "page"),  # 5% in six hours
    BurnWindow("BudgetBurn", "3d", "6h", 1.0, "1h", "ticket"),  # 10% in three days
)
ERROR_RATIO_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
QUANTILE_WINDOW = "5m"


@dataclass(frozen=True, slots=True)
class Term:
    """One SLO latency term: `ttft:p99<200ms` is "99% of requests have TTFT <= 200 ms" on the TTFT histogram."""

    target: SLOTarget
    histogram: str
    bucket: str
    count: str
    sum: str
    advice: BucketAdvice | None  # None for a mean, judged on _sum/_count

    @property
    def key(self) -> str:
        """`ttft_p99`, `itl_p99.9` -> `itl_p99_9`, `e2e_mean`: a label value and part of alert names."""
        return f"{self.target.metric}_{self.target.stat.replace('.', '_')}"

    @property
    def title(self) -> str:
        return f"{self.target.metric.upper()} {self.target.stat}"

    @property
    def alert_prefix(self) -> str:
        return "Vllm" + "".join(part.capitalize() for part in self.key.split("_"))

    @property
    def objective(self) -> float | None:
        """Share of events that must be good (p99 -> 0.99); None for a mean."""
        p = self.target.percentile
        return None if p is None else p / 100

    @property
    def budget(self) -> float | None:
        return None if self.objective is None else 1 - self.objective

    @property
    def le(self) -> str:
        assert self.advice is not None, "a mean has no bucket edge"
        return go_float(self.advice.judged_at_s)

    @property
    def expression(self) -> str:
        return f"{self.target.metric}:{self.target.stat}<{self.target.threshold * 1e3:g}ms"


def terms(deployment: Deployment) -> list[Term]:
    """The deployment's SLO latency terms, in the SLO's order."""
    if deployment.slo is None:
        return []
    version = deployment.vllm_version
    advice = {(a.metric, a.stat): a for a in deployment.bucket_advice}
    out = []
    for target in deployment.slo.targets:
        if not target.is_latency:
            continue
        histogram = SLO_HISTOGRAMS[target.metric]
        out.append(
            Term(
                target=target,
                histogram=histogram,
                bucket=series(histogram, "_bucket", version),
                count=series(histogram, "_count", version),
                sum=series(histogram, "_sum", version),
                advice=advice.get((target.metric, target.stat)) if target.percentile is not None else None,
            )
        )
    return out


def reachable(window: BurnWindow, budget: float) -> bool:
    """Whether the error ratio can exceed the window's threshold at all (it is at most 1): a p50 term's budget
    is 50%, and 14.4 x 50% is beyond any error ratio, so that alert is not written."""
    return window.factor * budget < 1
