"""Several runs side by side: overlaid latency CDFs and a table of the numbers that decide between them."""

from __future__ import annotations

import slotune.report.cells as cells
import slotune.report.charts as charts
from slotune.models import RunResult
from slotune.report.inputs import Loaded
from slotune.report.latency import METRIC_TITLES, METRICS, cdf_ms, slo_thresholds
from slotune.report.page import Cell, Figure, Section, Table
from slotune.report.sections.run import SUMMARY_ONLY
from slotune.report.sections.run_tables import KEY_COLUMNS, key_cells

_COLUMNS = ("run", "backend", "requests", *KEY_COLUMNS, "$/Mtok", "SLO")


def _result(item: Loaded) -> RunResult:
    result = item.result
    assert result is not None
    return result


def _cdf_figure(items: list[Loaded], metric: str) -> Figure | None:
    series = {}
    inexact = []
    for item in items:
        points, exact = cdf_ms(item, metric)
        if points:
            series[item.label] = points
        if not exact:
            inexact.append(item.label)
    if not series:
        return None
    thresholds: dict[tuple[float, str], charts.Threshold] = {}
    for item in items:
        slo = _result(item).slo
        for t in slo_thresholds(slo.targets if slo is not None else (), metric):
            thresholds.setdefault((t.value, t.label), t)
    title = METRIC_TITLES[metric]
    spec = charts.cdf(series, x_title=f"{title} (ms)", thresholds=list(thresholds.values()))
    note = f"{', '.join(inexact)}: {SUMMARY_ONLY}" if inexact else ""
    return Figure(f"{metric}-cdf", f"{title} CDF, all runs", spec, note)


def _row(item: Loaded) -> tuple[Cell, ...]:
    result = _result(item)
    s = result.summary
    return (
        cells.text(item.label),
        cells.text(result.provenance.backend),
        cells.num(s.num_requests, ",d"),
        *key_cells(s),
        cells.num(s.usd_per_mtok, ",.4f"),
        cells.verdict(s.slo_met),
    )


def _describe(result: RunResult) -> str:
    p = result.provenance
    flags = (
        " ".join(result.engine_config.vllm_args())
        if result.engine_config is not None
        else "flags not recorded"
    )
    return f"{p.backend}, {p.model or '?'} on {p.gpu or '?'}; workload {p.workload_name or '?'} ({p.workload_digest[:12] or 'no digest'}); {flags}"


def section(items: list[Loaded]) -> Section:
    """Needs two runs or more (simulate or bench results)."""
    figures = [f for metric in METRICS if (f := _cdf_figure(items, metric)) is not None]
    digests = {_result(i).provenance.workload_digest for i in items}
    notes = () if len(digests) == 1 else ("The runs served different workloads (their digests differ).",)
    return Section(
        title=f"Comparison of {len(items)} runs",
        kind="compare",
        source=", ".join(i.label for i in items),
        provenance=tuple((i.label, _describe(_result(i))) for i in items),
        figures=tuple(figures),
        tables=(Table("Key numbers", _COLUMNS, tuple(_row(i) for i in items)),),
        notes=notes,
    )
