"""Run summaries shared by every backend: distributions, throughput, goodput, SLO attainment."""

from slotune.metrics.distribution import Distribution, statistic
from slotune.metrics.summary import RunSummary, TargetResult, summarize

__all__ = ["Distribution", "RunSummary", "TargetResult", "statistic", "summarize"]
