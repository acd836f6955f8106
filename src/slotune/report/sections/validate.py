"""A validation (`slotune validate --out`): simulated and measured latency CDFs overlaid, the relative error of
every statistic, the KV capacity of vLLM, the planner and the simulator, and the preemptions."""

from __future__ import annotations

import slotune.report.cells as cells
import slotune.report.charts as charts
from slotune.models.validation import LATENCY_METRICS, ValidationReport
from slotune.report.inputs import Loaded
from slotune.report.latency import METRIC_TITLES, cdf_points_ms
from slotune.report.page import Cell, Figure, Section, Table, Verdict
from slotune.report.provenance import report_provenance

SUMMARY_ONLY = "Drawn from the summary's percentiles (no per-request plot data saved)."
GOAL_E2E = 0.05  # the fidelity goal on mean E2E (docs/fidelity.md)


def _overlay(report: ValidationReport, metric: str) -> Figure:
    measured, m_exact = cdf_points_ms(report.measured.summary, report.measured_plot, metric)
    simulated, s_exact = cdf_points_ms(report.simulated.summary, report.simulated_plot, metric)
    title = METRIC_TITLES[metric]
    spec = charts.cdf({"measured": measured, "simulated": simulated}, x_title=f"{title} (ms)")
    return Figure(
        f"{metric}-overlay",
        f"{title}: simulated vs measured",
        spec,
        "" if m_exact and s_exact else SUMMARY_ONLY,
    )


def _error_bars(report: ValidationReport) -> Figure:
    rows = [
        {"metric": METRIC_TITLES[e.metric], "stat": e.stat, "value": 100 * err}
        for e in report.errors
        if e.metric in LATENCY_METRICS and (err := e.relative_error) is not None
    ]
    spec = charts.grouped_bars(rows, category="metric", group="stat", y_title="simulated / measured - 1 (%)")
    return Figure("errors", "Relative error by statistic", spec)


def _value_cell(value: float | None, unit: str) -> Cell:
    if unit == "s":
        return cells.ms(value)
    if unit in ("tokens", "count"):
        return cells.num(value, ",.0f")
    return cells.num(value, ",.2f", f" {unit}")


def _errors_table(report: ValidationReport) -> Table:
    rows = tuple(
        (
            cells.text(e.metric),
            cells.text(e.stat),
            _value_cell(e.measured, e.unit),
            _value_cell(e.simulated, e.unit),
            cells.pct(e.relative_error),
        )
        for e in report.errors
    )
    return Table("Simulated vs measured", ("metric", "stat", "measured", "simulated", "error"), rows)


def _kv_table(report: ValidationReport) -> Table:
    kv = report.kv
    rows = (
        (
            cells.text("vLLM"),
            cells.num(kv.vllm_tokens, ",.0f"),
            cells.text("-"),
            cells.text(kv.source or "-"),
        ),
        (
            cells.text("planner"),
            cells.num(kv.planner_tokens, ",.0f"),
            cells.pct(kv.error("planner")),
            cells.text("plan_capacity"),
        ),
        (
            cells.text("simulator"),
            cells.num(kv.simulator_tokens, ",.0f"),
            cells.pct(kv.error("simulator")),
            cells.text("its KV pool"),
        ),
    )
    return Table("KV capacity (tokens)", ("source", "tokens", "error", "from"), rows)


def _verdict(report: ValidationReport) -> Verdict | None:
    err = report.error("e2e", "mean")
    if err is None:
        return None
    passed = abs(err) <= GOAL_E2E
    return Verdict(passed, f"mean E2E {err:+.1%} (goal within {GOAL_E2E:.0%})")


def section(item: Loaded) -> Section:
    report = item.report
    assert isinstance(report, ValidationReport)
    measured = report.measured
    p = measured.provenance
    extra = [
        ("profile", report.profile + (f" ({report.profile_path})" if report.profile_path else "")),
        ("engine", p.engine_version or p.backend),
        ("model", p.model or "-"),
        ("workload", f"{p.workload_name} ({p.workload_digest[:12] or 'no digest'})"),
        ("load", measured.load.describe() if measured.load is not None else "-"),
        ("engine flags", " ".join(measured.engine_config.vllm_args()) if measured.engine_config else "-"),
    ]
    if report.host_load is not None:
        extra.append(
            ("host load (1-min)", f"{report.host_load[0]:.1f} before, {report.host_load[1]:.1f} after")
        )
    return Section(
        title=f"Validation of {report.profile}",
        kind="validate",
        source=item.label,
        provenance=tuple(report_provenance(report, item.label, extra)),
        verdict=_verdict(report),
        figures=(*(_overlay(report, m) for m in LATENCY_METRICS), _error_bars(report)),
        tables=(_errors_table(report), _kv_table(report)),
    )
