"""The sweep table: one row per level, the same columns on screen and in the CSV file users open in a
spreadsheet (raw numbers in SI-derived units named in the header, no thousands separators)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from slotune.models.reports import SweepPoint, SweepReport
from slotune.models.run_summary import RunSummary


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the CSV header
    title: str  # the screen header
    value: Callable[[RunSummary], float | int | None]
    scale: float = 1.0  # screen value = value x scale
    digits: int = 1
    slo_only: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("request_rps", "req/s", lambda s: s.request_throughput_rps, digits=2),
    Column("output_tokens_per_s", "out tok/s", lambda s: s.output_tokens_per_s),
    Column("ttft_p50_s", "TTFT p50", lambda s: s.ttft_s.p50, scale=1e3),
    Column("ttft_p99_s", "TTFT p99", lambda s: s.ttft_s.p99, scale=1e3),
    Column("tpot_p50_s", "TPOT p50", lambda s: s.tpot_s.p50, scale=1e3),
    Column("itl_p99_s", "ITL p99", lambda s: s.itl_s.p99, scale=1e3),
    Column("slo_attainment", "SLO met", lambda s: s.slo_attainment, scale=100, slo_only=True),
    Column("goodput_rps", "goodput", lambda s: s.goodput_rps, digits=2, slo_only=True),
    Column("num_failed", "failed", lambda s: s.num_failed, digits=0),
)


def columns(report: SweepReport) -> tuple[Column, ...]:
    """The columns of this sweep: the SLO's only when its levels were judged against one."""
    with_slo = any(p.summary is not None and p.summary.slo_name is not None for p in report.points)
    return tuple(c for c in COLUMNS if with_slo or not c.slo_only)


def cell(point: SweepPoint, column: Column) -> float | int | None:
    """A level's value of a column; None where the level has no trustworthy summary (invalid)."""
    if point.summary is None or (not point.valid and column.key != "num_failed"):
        return None
    return column.value(point.summary)


def sweep_csv(report: SweepReport) -> str:
    cols = columns(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["level", "kind", "valid", "saturated", *(c.key for c in cols), "result_path"])
    for p in report.points:
        values = ["" if (v := cell(p, c)) is None else v for c in cols]
        saturated = "" if p.saturated is None else p.saturated
        writer.writerow([p.level, p.kind, p.valid, saturated, *values, p.result_path or ""])
    return out.getvalue()
