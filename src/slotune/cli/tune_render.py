"""What `slotune tune` shows: a progress bar with a live table of the best points so far, then the
recommendation, the baselines, the Pareto frontier and what binds."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from slotune.cli.output import console, err_console
from slotune.models.tune import TunePoint, TuneReport
from slotune.tune.objectives import ObjectiveKind, rank_key

LIVE_ROWS = 5
REFRESH_S = 0.5

_FLAG_ABBREVIATIONS = {
    "max_model_len": "len",
    "enforce_eager": "eager",
    "enable_prefix_caching": "prefix",
    "gpu_memory_utilization": "mem",
    "max_num_seqs": "seqs",
    "enable_chunked_prefill": "chunked",
    "max_num_batched_tokens": "tokens",
    "kv_cache_dtype": "kv",
}


def describe_params(point: TunePoint, searched: set[str] | None = None) -> str:
    """The searched flags in a few words, e.g. "seqs 256, tokens 512, kv fp8" (all flags without `searched`)."""
    parts = []
    for name, value in point.params.items():
        if (searched is not None and name not in searched) or value is None:
            continue
        short = _FLAG_ABBREVIATIONS.get(name, name)
        shown = "on" if value is True else "off" if value is False else value
        parts.append(f"{short} {shown}")
    return ", ".join(parts)


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.3f}"


def points_table(
    points: list[TunePoint],
    kind: ObjectiveKind,
    title: str,
    limit: int | None = None,
    searched: set[str] | None = None,
) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("trial", "req/s per replica", "$/Mtok", "req/GPU-h", "TPOT p50 ms", "binds", "configuration"):
        table.add_column(col, justify="left" if col in ("binds", "configuration") else "right")
    ranked = sorted((p for p in points if p.objectives is not None), key=lambda p: rank_key(p, kind))
    for p in ranked[:limit] if limit else ranked:
        obj, cap = p.objectives, p.capacity
        assert obj is not None and cap is not None
        table.add_row(
            p.role if p.trial is None else str(p.trial),
            f"{cap.max_rate_rps:.3g}",
            _money(obj.usd_per_mtok),
            f"{obj.goodput_per_gpu_hour:,.0f}",
            f"{obj.tpot_p50_s * 1e3:.1f}",
            cap.binding.kind if cap.binding else "-",
            describe_params(p, searched),
        )
    return table


class LiveTable:
    """Progress over the budget and the best points so far, redrawn on stderr as points arrive."""

    def __init__(
        self, budget: int, kind: ObjectiveKind, *, enabled: bool, searched: set[str] | None = None
    ) -> None:
        self.kind = kind
        self.searched = searched
        self.points: list[TunePoint] = []
        self.phase = "starting"
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        )
        self.task = self.progress.add_task("configurations", total=budget)
        self.live: Live | None = (
            Live(self._view(), console=err_console, auto_refresh=False, transient=True) if enabled else None
        )
        self._last = 0.0

    def _view(self) -> Any:
        return Group(
            f"[bold]{self.phase}[/]",
            self.progress,
            points_table(self.points, self.kind, "best so far", LIVE_ROWS, self.searched),
        )

    def on_phase(self, text: str) -> None:
        self.phase = text
        self._draw(force=True)

    def on_point(self, point: TunePoint) -> None:
        self.points.append(point)
        if point.role == "search" and point.pruned is None and point.reused_from is None:
            self.progress.advance(self.task)
        self._draw()

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.live is not None and (force or now - self._last >= REFRESH_S):
            self._last = now
            self.live.update(self._view(), refresh=True)

    def __enter__(self) -> LiveTable:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()


def _baseline_rows(report: TuneReport) -> list[tuple[str, TunePoint | None, str]]:
    rows: list[tuple[str, TunePoint | None, str]] = [
        ("vLLM defaults", report.baselines.get("defaults"), ""),
        ("seed's settings", report.baselines.get("seed"), ""),
    ]
    if report.grid is not None:
        rows.append(
            (
                f"auto_tune grid ({report.grid.num_trials} trials)",
                report.grid.pick,
                f"P99 E2E < {report.grid.e2e_p99_limit_s:.3g} s",
            )
        )
    if report.recommendation is not None:
        rec = report.recommendation
        rows.append(("recommended", rec.measured or rec.point, ""))
    return rows


def baselines_table(report: TuneReport) -> Table:
    table = Table(
        title=f"Goodput at the SLO ({report.inputs.slo.name}) on the same backend", title_justify="left"
    )
    for col in (
        "configuration",
        "req/s per replica",
        "goodput req/s",
        "$/Mtok",
        "x defaults",
        "binds",
        "note",
    ):
        table.add_column(col, justify="left" if col in ("configuration", "binds", "note") else "right")
    defaults = report.baselines.get("defaults")
    base = defaults.objectives.goodput_rps if defaults and defaults.objectives else None
    for name, point, note in _baseline_rows(report):
        if point is None or point.objectives is None or point.capacity is None:
            table.add_row(
                name, "0", "-", "-", "-", "-", point.pruned[:60] if point and point.pruned else note
            )
            continue
        obj = point.objectives
        ratio = f"{obj.goodput_rps / base:.2f}x" if base else "-"
        binding = point.capacity.binding.kind if point.capacity.binding else "-"
        table.add_row(
            name,
            f"{point.capacity.max_rate_rps:.3g}",
            f"{obj.goodput_rps:.3g}",
            _money(obj.usd_per_mtok),
            ratio,
            binding,
            note,
        )
    return table


def render(report: TuneReport) -> None:
    kind = report.inputs.objective
    search = [p for p in report.points if p.role == "search"]
    frontier = [p for p in search if p.trial in set(report.frontier)]
    searched = {name for name, choices in report.inputs.space.items() if len(choices) > 1}
    console.print(points_table(frontier, kind, "Pareto frontier (cost vs per-user latency)", None, searched))
    console.print(baselines_table(report))
    for confirmation in report.confirmations:
        style = "yellow" if confirmation.disagrees else "dim"
        console.print(f"[{style}]{confirmation.point.role}: {confirmation.note}[/]", highlight=False)
    rec = report.recommendation
    if rec is None:
        console.print("[bold red]No configuration met the SLO at any rate tried.[/]")
    else:
        _render_recommendation(report)
    console.print(
        f"{report.num_configurations} configurations evaluated ({report.num_pruned} pruned before any run), "
        f"{report.num_sim_runs} simulator runs, {report.num_real_runs} real-engine runs, {report.wall_s:,.0f} s; "
        f"study {report.inputs.study_name} in {report.inputs.storage}",
        highlight=False,
    )


def _render_recommendation(report: TuneReport) -> None:
    rec = report.recommendation
    assert rec is not None
    point = rec.measured or rec.point
    obj, cap = point.objectives, point.capacity
    console.print(f"[bold green]Recommended:[/] {point.candidate.describe()}", highlight=False)
    if obj is not None and cap is not None:
        measured = "measured" if rec.measured is not None else "simulated"
        console.print(
            f"  capacity {cap.max_rate_rps:.3g} req/s per replica ({measured}), goodput {obj.goodput_rps:.3g} "
            f"req/s, {_money(obj.usd_per_mtok)}/Mtok; serve up to {rec.serving_rate_rps or 0:.3g} req/s per "
            f"replica ({rec.margin or 0:.0%} margin to the SLO)",
            highlight=False,
        )
        if obj.gpus_for_rate is not None:
            console.print(
                f"  {report.inputs.target_rate_rps:g} req/s needs {obj.replicas_for_rate} replicas = "
                f"{obj.gpus_for_rate} GPUs",
                highlight=False,
            )
        if cap.binding is not None:
            console.print(f"  binds: {cap.binding.kind}: {cap.binding.evidence}", highlight=False)
    console.print(f"  {rec.command_line}", highlight=False, soft_wrap=True)
