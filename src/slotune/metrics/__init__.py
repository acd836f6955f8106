"""Run summaries shared by every backend: distributions, throughput, goodput, SLO attainment."""

from slotune.metrics.distribution import distribution, statistic
from slotune.metrics.summary import summarize, with_slo
from slotune.models import Distribution, RunSummary, TargetResult

__all__ = ["Distribution", "RunSummary", "TargetResult", "distribution", "statistic", "summarize", "with_slo"]
