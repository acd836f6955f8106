"""One simulated or measured run (`simulate --out`, `bench --out`): latency CDFs with the SLO lines, KV and
queue timelines, the server's /metrics where measured, and the summary with the SLO verdict."""

from __future__ import annotations

import slotune.report.charts as charts
from slotune.models import RunResult, RunSummary
from slotune.models.reports import BenchReport, RunPlotData
from slotune.report.inputs import Loaded
from slotune.report.latency import METRIC_TITLES, METRICS, cdf_ms, slo_thresholds
from slotune.report.page import Figure, Section, Table, Verdict
from slotune.report.provenance import run_provenance
from slotune.report.sections.run_tables import (
    engine_table,
    errors_table,
    latency_table,
    requests_tables,
    server_tables,
    summary_table,
    targets_table,
    validity_table,
)
from slotune.report.summarize import downsample_timeline

SUMMARY_ONLY = "From the summary's percentiles only (the result was saved without its records)."


def _cdf_figures(item: Loaded, result: RunResult) -> list[Figure]:
    targets = result.slo.targets if result.slo is not None else ()
    figures = []
    for metric in METRICS:
        points, exact = cdf_ms(item, metric)
        if not points:
            continue
        title = METRIC_TITLES[metric]
        spec = charts.cdf(
            {item.label: points}, x_title=f"{title} (ms)", thresholds=slo_thresholds(targets, metric)
        )
        figures.append(Figure(f"{metric}-cdf", f"{title} CDF", spec, "" if exact else SUMMARY_ONLY))
    return figures


def _timeline_figures(result: RunResult) -> list[Figure]:
    points = downsample_timeline(result.timeline)
    if not points:
        return []
    source = "engine steps" if result.provenance.backend == "simulator" else "/metrics scrapes"
    note = f"From {len(result.timeline):,} samples of {source}" + (
        f", averaged into {len(points):,} buckets." if len(points) < len(result.timeline) else "."
    )
    bucketed = len(points) < len(result.timeline)
    kv = [
        {"t": p.time_s, "series": name, "value": value}
        for p in points
        for name, value in (
            (("bucket mean", p.kv_usage_mean), ("bucket max", p.kv_usage_max))
            if bucketed
            else (("usage", p.kv_usage_mean),)
        )
    ]
    queue = [
        {"t": p.time_s, "series": name, "value": value}
        for p in points
        for name, value in (("running", p.num_running), ("waiting", p.num_waiting))
    ]
    tokens = [{"t": p.time_s, "series": "prefill + decode", "value": p.tokens_per_s} for p in points]
    return [
        Figure("kv-usage", "KV cache usage over time",
               charts.lines(kv, x="t", x_title="time (s)", y_title="KV cache usage", y_format="%"), note),
        Figure("queue", "Running and waiting requests over time",
               charts.lines(queue, x="t", x_title="time (s)", y_title="requests"), note),
        Figure("engine-tokens", "Tokens processed per second",
               charts.lines(tokens, x="t", x_title="time (s)", y_title="tokens/s"), note),
    ]  # fmt: skip


def _completion_figures(plot_data: RunPlotData | None) -> list[Figure]:
    if plot_data is None or not plot_data.completions:
        return []
    requests = [{"t": t, "series": "completed requests/s", "value": n} for t, n, _ in plot_data.completions]
    tokens = [{"t": t, "series": "output tokens/s", "value": v} for t, _, v in plot_data.completions]
    return [
        Figure("completions", "Completed requests per second",
               charts.lines(requests, x="t", x_title="time (s)", y_title="requests/s", step=True)),
        Figure("output-tokens", "Output tokens per second (counted at completion)",
               charts.lines(tokens, x="t", x_title="time (s)", y_title="tokens/s", step=True)),
    ]  # fmt: skip


def _server_figures(result: RunResult) -> list[Figure]:
    window = result.server.window if result.server is not None else None
    if window is None:
        return []
    rows = [
        {"metric": name, "stat": stat, "value": value * 1e3}
        for name, h in sorted(window.histograms.items())
        for stat, value in (("p50", h.p50), ("p90", h.p90), ("p99", h.p99))
        if value is not None
    ]
    if not rows:
        return []
    spec = charts.grouped_bars(rows, category="metric", group="stat", y_title="ms")
    note = "vLLM's own histograms over the measured window, read as histogram_quantile reads them (bucket resolution)."
    return [Figure("server-histograms", "Server /metrics latency histograms", spec, note)]


def run_verdict(report: object, summary: RunSummary) -> Verdict | None:
    if isinstance(report, BenchReport) and not report.valid:
        return Verdict(False, "invalid measurement: " + "; ".join(report.reasons))
    if summary.slo_met is None:
        return None
    word = "met" if summary.slo_met else "not met"
    attainment = f"attainment {summary.slo_attainment or 0:.2%} (target {summary.attainment_target or 0:.0%})"
    return Verdict(summary.slo_met, f"SLO {summary.slo_name}: {word}; {attainment}")


def _title(item: Loaded, result: RunResult) -> str:
    p = result.provenance
    what = "Simulated" if item.report.kind == "simulate" else "Measured"
    where = f" on {p.gpu}" if p.gpu else ""
    return f"{what} run: {p.model or 'model ?'}{where}, workload {p.workload_name or '?'}"


def _tables(item: Loaded, result: RunResult) -> list[Table]:
    tables = [summary_table(result.summary), latency_table(result.summary)]
    if result.summary.targets:
        tables.append(targets_table(result.summary))
    if result.engine is not None:
        tables.append(engine_table(result.engine))
    tables += server_tables(result)
    if isinstance(item.report, BenchReport):
        tables += validity_table(item.report) + errors_table(item.report)
    if item.plot_data is not None:
        tables += requests_tables(item.plot_data)
    return tables


def section(item: Loaded) -> Section:
    result = item.result
    assert result is not None
    figures = (
        _cdf_figures(item, result)
        + _timeline_figures(result)
        + _completion_figures(item.plot_data)
        + _server_figures(result)
    )
    notes = []
    if result.summary.quantile_relative_error is not None:
        notes.append(
            f"Percentiles from quantile sketches (relative error {result.summary.quantile_relative_error:.1%})."
        )
    return Section(
        title=_title(item, result),
        kind=item.report.kind,
        source=item.label,
        provenance=tuple(run_provenance(item.report, result, item.label)),
        verdict=run_verdict(item.report, result.summary),
        figures=tuple(figures),
        tables=tuple(_tables(item, result)),
        notes=tuple(notes),
    )
