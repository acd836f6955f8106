"""Run summaries shared by every backend: distributions, throughput, goodput, SLO attainment."""

from slotune.metrics.distribution import statistic
from slotune.metrics.summary import summarize, with_cost, with_slo
from slotune.models import Distribution, RunSummary, TargetResult

__all__ = ["Distribution", "RunSummary", "TargetResult", "statistic", "summarize", "with_cost", "with_slo"]
