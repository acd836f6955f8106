"""A tune study (`slotune tune --out`): the Pareto frontier with the baselines and the recommendation marked,
the search's progress (the best objective after each trial), the baselines side by side and the
recommendation's flags."""

from __future__ import annotations

from typing import Any

import slotune.report.cells as cells
import slotune.report.charts as charts
from slotune.models.tune import TunePoint, TuneReport
from slotune.report.inputs import Loaded
from slotune.report.page import Cell, Figure, Section, Table, Verdict
from slotune.report.provenance import report_provenance

FRONTIER = "Pareto frontier"


def _cost(point: TunePoint) -> float | None:
    obj = point.objectives
    if obj is None:
        return None
    return obj.usd_per_mtok if obj.usd_per_mtok is not None else obj.goodput_per_gpu_hour


def _labelled(report: TuneReport) -> list[tuple[str, TunePoint]]:
    frontier = set(report.frontier)
    out = [(FRONTIER if p.trial in frontier else "searched", p) for p in report.points if p.role == "search"]
    out += [(f"baseline: {name}", p) for name, p in report.baselines.items()]
    if report.grid is not None and report.grid.pick is not None:
        out.append(("baseline: auto_tune grid", report.grid.pick))
    if report.recommendation is not None:
        rec = report.recommendation
        out.append(("recommended", rec.measured or rec.point))
    return out


def _frontier_figure(report: TuneReport, priced: bool) -> Figure | None:
    rows: list[dict[str, Any]] = []
    for label, p in _labelled(report):
        value, obj, cap = _cost(p), p.objectives, p.capacity
        if value is None or obj is None or cap is None:
            continue
        rows.append(
            {
                "group": label,
                "tpot_ms": obj.tpot_p50_s * 1e3,
                "value": value,
                "req_s": round(cap.max_rate_rps, 3),
                "trial": "-" if p.trial is None else p.trial,
                "backend": p.backend,
            }
        )
    if not rows:
        return None
    y_title = "$ per million output tokens at the SLO" if priced else "goodput per GPU-hour (requests)"
    spec = charts.scatter(
        rows, x="tpot_ms", y="value", x_title="per-user latency: median TPOT (ms)", y_title=y_title,
        line_group=FRONTIER,
    )  # fmt: skip
    return Figure(
        "frontier", "Cost vs per-user latency: the frontier, the baselines, the recommendation", spec
    )


def _progress_figure(report: TuneReport, priced: bool) -> Figure | None:
    search = sorted(
        (p for p in report.points if p.role == "search" and p.trial is not None), key=lambda p: p.trial or 0
    )
    rows: list[dict[str, Any]] = []
    best: float | None = None
    for p in search:
        value = _cost(p)
        if value is not None:
            best = value if best is None else (min(best, value) if priced else max(best, value))
        if best is not None:
            rows.append({"trial": p.trial, "series": "best so far", "value": best})
    if not rows:
        return None
    y_title = "best $/Mtok at the SLO" if priced else "best goodput per GPU-hour"
    spec = charts.lines(rows, x="trial", x_title="trial", y_title=y_title, step=True)
    return Figure("progress", "Search progress", spec)


def _row(name: str, point: TunePoint | None, base: float | None) -> tuple[Cell, ...]:
    if point is None or point.objectives is None or point.capacity is None:
        reason = point.pruned if point is not None and point.pruned else "the SLO held at no rate tried"
        return (cells.text(name), cells.num(0.0, ",.3g"), *(cells.text(None),) * 5, cells.text(reason))
    obj, cap = point.objectives, point.capacity
    return (
        cells.text(name),
        cells.num(cap.max_rate_rps, ",.3g"),
        cells.num(obj.goodput_rps, ",.3g"),
        cells.num(obj.usd_per_mtok, ",.3f", " $"),
        cells.ms(obj.tpot_p50_s),
        cells.num(obj.goodput_rps / base if base else None, ",.2f", "x"),
        cells.text(point.backend),
        cells.text(cap.binding.evidence if cap.binding else None),
    )


def _baselines_table(report: TuneReport) -> Table:
    defaults = report.baselines.get("defaults")
    base = defaults.objectives.goodput_rps if defaults and defaults.objectives else None
    rows = [_row(f"baseline: {k}", p, base) for k, p in report.baselines.items()]
    if report.grid is not None:
        rows.append(_row(f"auto_tune grid ({report.grid.num_trials} trials)", report.grid.pick, base))
    if report.recommendation is not None:
        rec = report.recommendation
        rows.append(_row("recommended", rec.measured or rec.point, base))
    columns = (
        "configuration",
        "req/s per replica",
        "goodput req/s",
        "$/Mtok",
        "TPOT p50",
        "x defaults",
        "backend",
        "what binds",
    )
    return Table("Baselines and the recommendation, same study and backend", columns, tuple(rows))


def _verdict(report: TuneReport) -> Verdict:
    rec = report.recommendation
    if rec is None:
        return Verdict(False, "no configuration met the SLO at any rate tried")
    point = rec.measured or rec.point
    rate = point.capacity.max_rate_rps if point.capacity else 0.0
    return Verdict(True, f"{point.candidate.describe()} holds the SLO up to {rate:,.3g} req/s per replica")


def _provenance(item: Loaded, report: TuneReport) -> list[tuple[str, str]]:
    i = report.inputs
    return report_provenance(
        report,
        item.label,
        [
            ("model", i.model),
            ("GPUs", ", ".join(i.gpus)),
            ("workload", f"{i.workload_name} ({i.workload_digest or 'no digest'})"),
            ("SLO", i.slo.name),
            ("load", i.load.describe().replace(f"{i.load.rate_rps:g} req/s", "rate searched")),
            ("engine", f"{i.engine}; profile {i.profile}"),
            ("study", f"{i.study_name} in {i.storage}"),
            (
                "budget",
                f"{i.budget} configurations ({report.num_configurations} distinct, {report.num_pruned} pruned)",
            ),
            (
                "runs",
                f"{report.num_sim_runs} simulator, {report.num_real_runs} real engine, {report.wall_s:,.0f} s",
            ),
        ],
    )


def section(item: Loaded) -> Section:
    report = item.report
    assert isinstance(report, TuneReport)
    priced = any(p.objectives is not None and p.objectives.usd_per_mtok is not None for p in report.points)
    figures = [
        f for f in (_frontier_figure(report, priced), _progress_figure(report, priced)) if f is not None
    ]
    notes = [c.note for c in report.confirmations]
    if report.recommendation is not None:
        notes.append("vLLM command: " + report.recommendation.command_line)
    return Section(
        title=f"Tune: {report.inputs.model} on {', '.join(report.inputs.gpus)}",
        kind="tune",
        source=item.label,
        provenance=tuple(_provenance(item, report)),
        verdict=_verdict(report),
        figures=tuple(figures),
        tables=(_baselines_table(report),),
        notes=tuple(notes),
    )
