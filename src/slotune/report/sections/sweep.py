"""A load sweep (`bench --sweep ... --out`): latency against achieved throughput across the levels, with the
SLO lines, and the goodput at each level."""

from __future__ import annotations

from typing import Any

import slotune.report.cells as cells
import slotune.report.charts as charts
from slotune.errors import InputError
from slotune.models import RunSummary, TargetResult
from slotune.models.reports import BenchReport, SweepPoint, SweepReport
from slotune.report.inputs import Loaded
from slotune.report.latency import METRIC_TITLES, METRICS, distribution, slo_thresholds
from slotune.report.page import Cell, Figure, Section, Table, Verdict
from slotune.report.provenance import report_provenance, run_provenance
from slotune.report.sections.run_tables import KEY_COLUMNS, key_cells
from slotune.results import load_result

CURVE_STATS = ("p50", "p90", "p99")
INVALID = "invalid"  # the label over a level whose measurement is not valid


def _targets(points: tuple[SweepPoint, ...]) -> tuple[TargetResult, ...]:
    return next((p.summary.targets for p in points if p.summary is not None and p.summary.targets), ())


def _latency_figure(
    metric: str, measured: list[tuple[SweepPoint, RunSummary]], targets: tuple[TargetResult, ...]
) -> Figure | None:
    rows: list[dict[str, Any]] = []
    for point, s in measured:
        d = distribution(s, metric)
        for stat in CURVE_STATS:
            value = d.stat(stat)
            if value is not None:
                rows.append(
                    {
                        "throughput": s.request_throughput_rps,
                        "series": stat,
                        "value": value * 1e3,
                        "level": point.level,
                    }
                )
    if not rows:
        return None
    thresholds = slo_thresholds(targets, metric)
    title = METRIC_TITLES[metric]
    spec = charts.lines(
        rows, x="throughput", x_title="achieved throughput (req/s)", y_title=f"{title} (ms)",
        thresholds=thresholds, with_points=True, unflagged="valid", flag_label=INVALID,
    )  # fmt: skip
    return Figure(f"{metric}-vs-throughput", f"{title} vs throughput", spec)


def _goodput_figure(report: SweepReport, measured: list[tuple[SweepPoint, RunSummary]]) -> Figure | None:
    unit = "req/s offered" if report.sweep_kind == "rate" else "concurrent requests"
    rows: list[dict[str, Any]] = []
    for point, s in measured:
        values = [("throughput", s.request_throughput_rps), ("goodput (met the SLO)", s.goodput_rps)]
        rows += [
            {"level": point.level, "series": name, "value": value, "valid": point.valid}
            for name, value in values
            if value is not None
        ]
    if not rows:
        return None
    spec = charts.lines(
        rows, x="level", x_title=f"load level ({unit})", y_title="req/s",
        with_points=True, unflagged="valid", flag_label=INVALID,
    )  # fmt: skip
    return Figure("goodput", "Throughput and goodput per load level", spec)


def _row(point: SweepPoint) -> tuple[Cell, ...]:
    s = point.summary
    head = (
        cells.num(point.level, ",.3g"),
        cells.verdict(point.valid, "yes", "no"),
        cells.text({None: None, True: "yes", False: "no"}[point.saturated]),
        cells.num(point.completion_rate_rps, ",.2f"),
    )
    if s is None:
        return (*head, *(cells.text(None),) * (len(KEY_COLUMNS) + 1))
    return (*head, *key_cells(s), cells.verdict(s.slo_met))


_COLUMNS = ("level", "valid", "saturated", "completions/s", *KEY_COLUMNS, "SLO")


def _first_level(item: Loaded, report: SweepReport) -> BenchReport | None:
    """The first level's own bench report: the sweep's provenance (model, server, engine, workload)."""
    for point in report.points:
        if point.result_path:
            try:
                return load_result(item.path.parent / point.result_path, BenchReport, with_records=False)
            except InputError:
                return None
    return None


def _provenance(item: Loaded, report: SweepReport) -> list[tuple[str, str]]:
    levels = "auto" if report.levels == "auto" else ", ".join(f"{v:g}" for v in report.levels)
    extra = [
        ("sweep", f"{report.sweep_kind} levels: {levels}"),
        (
            "max sustained rate",
            "-" if report.max_sustained_rate_rps is None else f"{report.max_sustained_rate_rps:,.2f} req/s",
        ),
    ]
    first = _first_level(item, report)
    if first is None:
        return report_provenance(
            report, item.label, [*extra, ("levels' results", "not found beside the sweep")]
        )
    rows = run_provenance(first, first.result, item.label)
    return [*rows[:3], *extra, *rows[3:]]


def _verdict(report: SweepReport) -> Verdict:
    if not report.valid:
        return Verdict(False, "some levels are not valid measurements (see the table)")
    if report.max_sustained_rate_rps is not None:
        return Verdict(True, f"sustains {report.max_sustained_rate_rps:,.2f} req/s")
    return Verdict(None, "no level saturated the server")


def section(item: Loaded) -> Section:
    report = item.report
    assert isinstance(report, SweepReport)
    measured = [(p, p.summary) for p in report.points if p.summary is not None]
    targets = _targets(report.points)
    figures = [f for m in METRICS if (f := _latency_figure(m, measured, targets)) is not None]
    if (goodput := _goodput_figure(report, measured)) is not None:
        figures.append(goodput)
    table = Table("Levels", _COLUMNS, tuple(_row(p) for p in report.points))
    notes = (
        ()
        if all(p.valid for p in report.points)
        else (
            "Levels whose measurement is not valid are labelled 'invalid' in the plots: read them with care.",
        )
    )
    return Section(
        title=f"Load sweep ({report.sweep_kind}), {len(report.points)} levels",
        kind="sweep",
        source=item.label,
        provenance=tuple(_provenance(item, report)),
        verdict=_verdict(report),
        figures=tuple(figures),
        tables=(table,),
        notes=notes,
    )
