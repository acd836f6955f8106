"""The four latency metrics as every section draws them: CDFs in milliseconds and the SLO's lines."""

from __future__ import annotations

from collections.abc import Iterable

from slotune.models import Distribution, RunSummary, TargetResult
from slotune.models.reports import RunPlotData
from slotune.models.slo import SLOTarget
from slotune.report.charts import Threshold
from slotune.report.inputs import Loaded
from slotune.report.summarize import cdf_from_distribution

METRICS = ("ttft", "itl", "tpot", "e2e")
METRIC_TITLES = {"ttft": "TTFT", "itl": "ITL", "tpot": "TPOT", "e2e": "E2E latency"}


def distribution(summary: RunSummary, metric: str) -> Distribution:
    d: Distribution = getattr(summary, f"{metric}_s")
    return d


def cdf_ms(item: Loaded, metric: str) -> tuple[list[tuple[float, float]], bool]:
    """(CDF points as (ms, fraction), drawn from every request?) of one metric of a run."""
    result = item.result
    assert result is not None
    return cdf_points_ms(result.summary, item.plot_data, metric)


def cdf_points_ms(
    summary: RunSummary, plot_data: RunPlotData | None, metric: str
) -> tuple[list[tuple[float, float]], bool]:
    """CDF points (ms, fraction) of one metric: from the plot data where saved, else the summary's
    percentiles; and whether they come from every request."""
    exact = plot_data is not None and metric in plot_data.cdf
    cdf = (
        plot_data.cdf[metric]
        if plot_data is not None and exact
        else cdf_from_distribution(distribution(summary, metric))
    )
    return [(x * 1e3, p) for x, p in zip(cdf.value_s, cdf.p, strict=True)], exact


def slo_thresholds(targets: Iterable[SLOTarget | TargetResult], metric: str) -> list[Threshold]:
    """Lines for the SLO's latency targets on `metric`, in milliseconds."""
    return [
        Threshold(t.threshold * 1e3, f"SLO {t.stat} {t.threshold * 1e3:g} ms")
        for t in targets
        if t.metric == metric
    ]
