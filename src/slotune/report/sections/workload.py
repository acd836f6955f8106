"""A workload profile (`workload analyze FILE --out`): length histograms, arrival rate over time, and the
share of prompt tokens a prefix cache would serve against its size."""

from __future__ import annotations

import slotune.report.cells as cells
import slotune.report.charts as charts
from slotune.models.reports import WorkloadReport
from slotune.models.workload_stats import WorkloadStats
from slotune.report.inputs import Loaded
from slotune.report.page import Cell, Figure, Section, Table
from slotune.report.provenance import report_provenance


def _length_figures(report: WorkloadReport) -> list[Figure]:
    figures = []
    for key, title, hist in (
        ("prompt-lengths", "Prompt lengths", report.prompt_histogram),
        ("output-lengths", "Output lengths", report.output_histogram),
    ):
        if hist.counts:
            spec = charts.histogram(hist.edges, hist.counts, x_title=f"{title.lower()} (tokens)")
            figures.append(Figure(key, title, spec))
    return figures


def _arrival_figure(report: WorkloadReport) -> list[Figure]:
    rate = report.arrival_rate
    if rate is None or not rate.requests_per_s:
        return []
    points = [
        {"t": i * rate.bin_s, "series": "arrivals", "value": v} for i, v in enumerate(rate.requests_per_s)
    ]
    mean = report.stats.mean_rate_rps
    thresholds = [charts.Threshold(mean, f"mean {mean:,.2f} req/s")] if mean else []
    spec = charts.lines(
        points, x="t", x_title="time (s)", y_title="requests/s", thresholds=thresholds, step=True
    )
    return [Figure("arrival-rate", f"Arrival rate ({rate.bin_s:g} s bins)", spec)]


def _reuse_figure(report: WorkloadReport) -> list[Figure]:
    if not report.prefix_reuse_curve:
        return []
    points = [
        {"cache_tokens": p.cache_tokens, "series": "LRU prefix cache", "value": p.hit_token_fraction}
        for p in report.prefix_reuse_curve
    ]
    spec = charts.lines(
        points, x="cache_tokens", x_title="cache size (tokens)", y_title="prompt tokens served from cache",
        y_format="%", with_points=True, x_log=True,
    )  # fmt: skip
    note = "Requests one at a time in arrival order; the largest size is what an unbounded cache would hold."
    return [Figure("prefix-reuse", "Prefix reuse vs cache size", spec, note)]


def _stats_table(s: WorkloadStats) -> Table:
    rows: list[tuple[str, Cell]] = [
        ("source", cells.text(s.source)),
        ("requests", cells.num(s.num_requests, ",d")),
        ("duration", cells.num(s.duration_s, ",.1f", " s")),
        ("mean rate", cells.num(s.mean_rate_rps, ",.2f", " req/s")),
        ("peak 1-minute rate", cells.num(s.peak_1min_rate_rps, ",.2f", " req/s")),
        ("peak in one second", cells.num(s.peak_1s_requests, ",d", " requests")),
        ("inter-arrival CV", cells.num(s.interarrival_cv, ".2f")),
        ("tokens in / out", cells.text(f"{s.total_prompt_tokens:,} / {s.total_output_tokens:,}")),
        ("outputs without a measured length", cells.num(s.num_output_estimated, ",d")),
        ("prefix reuse (unbounded cache)", cells.pct(s.prefix_reuse.unbounded_token_fraction)),
    ]
    if s.prefix_reuse.lru_token_fraction is not None:
        rows.append(
            (
                f"prefix reuse (LRU, {s.prefix_reuse.cache_blocks:,} blocks)",
                cells.pct(s.prefix_reuse.lru_token_fraction),
            )
        )
    return Table("Workload", ("", "value"), tuple((cells.text(k), v) for k, v in rows))


def _lengths_table(s: WorkloadStats) -> Table:
    stats = ("mean", "p50", "p90", "p99", "max")
    rows = tuple(
        (cells.text(name), *(cells.num(d.stat(k), ",.0f") for k in stats))
        for name, d in (("prompt", s.prompt_tokens), ("output", s.output_tokens))
    )
    return Table("Token lengths", ("", *stats), rows)


def section(item: Loaded) -> Section:
    report = item.report
    assert isinstance(report, WorkloadReport)
    s = report.stats
    reuse = s.prefix_reuse
    extra = [
        ("workload", s.name),
        ("analyzed file", report.source_path or "-"),
        ("workload digest", s.digest),
        (
            "prefix basis",
            reuse.basis
            + (f", blocks of {reuse.block_size_tokens} tokens" if reuse.block_size_tokens else ""),
        ),
    ]
    figures = _length_figures(report) + _arrival_figure(report) + _reuse_figure(report)
    return Section(
        title=f"Workload: {s.name}",
        kind="workload",
        source=item.label,
        provenance=tuple(report_provenance(report, item.label, extra)),
        figures=tuple(figures),
        tables=(_stats_table(s), _lengths_table(s)),
    )
