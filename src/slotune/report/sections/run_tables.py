"""The tables of a run's section: summary and SLO verdict, latency percentiles, engine counters, the server's
/metrics window, a benchmark's validity and errors, and the slowest and failed requests."""

from __future__ import annotations

import slotune.report.cells as cells
from slotune.models import EngineCounters, RunResult, RunSummary
from slotune.models.reports import BenchReport, NotableRequest, RunPlotData
from slotune.report.latency import METRIC_TITLES, METRICS, distribution
from slotune.report.page import Cell, Table

STATS = ("mean", "p50", "p90", "p95", "p99", "max")


def _key_values(title: str, rows: list[tuple[str, Cell]], note: str = "") -> Table:
    return Table(title, ("", "value"), tuple((cells.text(k), v) for k, v in rows), note)


def summary_table(s: RunSummary) -> Table:
    failed = f"{s.num_failed:,}" + (
        f" ({', '.join(f'{k} {v:,}' for k, v in s.failures_by_reason.items())})"
        if s.failures_by_reason
        else ""
    )
    rows = [
        ("requests", cells.num(s.num_requests, ",d")),
        ("finished well", cells.num(s.num_ok, ",d")),
        ("failed", Cell(failed, s.num_failed)),
        ("duration", cells.num(s.duration_s, ",.1f", " s")),
        ("request throughput", cells.num(s.request_throughput_rps, ",.2f", " req/s")),
        ("output tokens/s", cells.num(s.output_tokens_per_s, ",.0f")),
        ("total tokens/s", cells.num(s.total_tokens_per_s, ",.0f")),
        (
            "prompt tokens (cached)",
            Cell(f"{s.prompt_tokens:,} ({s.cached_prompt_tokens:,})", s.prompt_tokens),
        ),
        ("preemptions", cells.num(s.num_preemptions, ",d")),
        ("$/Mtok", cells.num(s.usd_per_mtok, ",.4f")),
    ]
    if s.slo_name is not None:
        rows += [
            ("SLO", cells.text(s.slo_name)),
            ("SLO attainment", cells.pct(s.slo_attainment)),
            ("attainment target", cells.pct(s.attainment_target)),
            ("goodput", cells.num(s.goodput_rps, ",.2f", " req/s")),
            ("goodput tokens/s", cells.num(s.goodput_output_tokens_per_s, ",.0f")),
            ("SLO verdict", cells.verdict(s.slo_met)),
        ]
    return _key_values("Summary", rows)


def latency_table(s: RunSummary) -> Table:
    rows = []
    for metric in METRICS:
        d = distribution(s, metric)
        rows.append(
            (
                cells.text(METRIC_TITLES[metric]),
                cells.num(d.count, ",d"),
                *(cells.ms(d.stat(k)) for k in STATS),
            )
        )
    return Table("Latency", ("metric", "count", *STATS), tuple(rows))


KEY_COLUMNS = (
    "req/s", "output tok/s", "TTFT p50", "TTFT p99", "ITL p99", "TPOT p99", "E2E p99", "SLO attainment",
    "goodput req/s",
)  # fmt: skip


def key_cells(s: RunSummary) -> tuple[Cell, ...]:
    """The numbers that decide between runs or load levels, in KEY_COLUMNS' order."""
    return (
        cells.num(s.request_throughput_rps, ",.2f"),
        cells.num(s.output_tokens_per_s, ",.0f"),
        cells.ms(s.ttft_s.p50),
        cells.ms(s.ttft_s.p99),
        cells.ms(s.itl_s.p99),
        cells.ms(s.tpot_s.p99),
        cells.ms(s.e2e_s.p99),
        cells.pct(s.slo_attainment),
        cells.num(s.goodput_rps, ",.2f"),
    )


def _target_value(metric: str, value: float | None) -> Cell:
    if metric == "throughput":
        return cells.num(value, ",.0f", " tok/s")
    if metric == "cost":
        return cells.num(value, ",.4f", " $/Mtok")
    return cells.ms(value)


def targets_table(s: RunSummary) -> Table:
    rows = tuple(
        (
            cells.text(METRIC_TITLES.get(t.metric, t.metric)),
            cells.text(t.stat),
            _target_value(t.metric, t.threshold),
            _target_value(t.metric, t.observed),
            cells.verdict(t.passed, "pass", "fail"),
        )
        for t in s.targets
    )
    return Table("SLO targets", ("metric", "stat", "threshold", "observed", "verdict"), rows)


def engine_table(e: EngineCounters) -> Table:
    rows = [
        ("source", cells.text(e.source)),
        ("KV capacity", cells.num(e.kv_capacity_tokens, ",d", " tokens")),
        ("KV blocks x block size", cells.text(f"{e.num_gpu_blocks or '-'} x {e.block_size or '-'}")),
        (
            "KV usage mean / max",
            Cell(f"{cells.pct(e.kv_usage_mean).text} / {cells.pct(e.kv_usage_max).text}"),
        ),
        ("prefix cache hit rate", cells.pct(e.prefix_hit_rate)),
        ("preemptions", cells.num(e.num_preemptions, ",d")),
        ("running mean / max", cells.text(f"{_opt(e.num_running_mean)} / {_opt(e.num_running_max)}")),
        ("waiting mean / max", cells.text(f"{_opt(e.num_waiting_mean)} / {_opt(e.num_waiting_max)}")),
    ]
    return _key_values("Engine", rows)


def _opt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def server_tables(result: RunResult) -> list[Table]:
    server = result.server
    if server is None:
        return []
    tables = []
    window = server.window
    if window is not None:
        counters = [
            ("window", cells.num(window.window_s, ",.1f", " s")),
            ("prompt tokens", cells.num(window.prompt_tokens, ",.0f")),
            ("generation tokens", cells.num(window.generation_tokens, ",.0f")),
            (
                "prefix cache queries / hits",
                cells.text(f"{_opt(window.prefix_cache_queries)} / {_opt(window.prefix_cache_hits)}"),
            ),
            ("preemptions", cells.num(window.num_preemptions, ",.0f")),
            ("requests finished", cells.num(window.requests_finished, ",.0f")),
        ]
        if window.counter_resets:
            counters.append(("counters that reset", cells.text(", ".join(window.counter_resets))))
        tables.append(
            _key_values(f"Server /metrics ({server.scrapes} scrapes every {server.interval_s:g} s)", counters)
        )
        if window.histograms:
            rows = tuple(
                (
                    cells.text(name),
                    cells.num(h.count, ",.0f"),
                    *(cells.num(v, ",.4g") for v in (h.mean, h.p50, h.p90, h.p99)),
                )
                for name, h in sorted(window.histograms.items())
            )
            tables.append(
                Table(
                    "Server histograms (seconds)", ("histogram", "count", "mean", "p50", "p90", "p99"), rows
                )
            )
    if server.gauges:
        rows = tuple(
            (
                cells.text(name),
                cells.num(g.mean if g else None, ",.3g"),
                cells.num(g.max if g else None, ",.3g"),
            )
            for name, g in sorted(server.gauges.items())
        )
        tables.append(Table("Server gauges", ("gauge", "mean", "max"), rows))
    return tables


def validity_table(report: BenchReport) -> list[Table]:
    validity = report.result.validity
    if validity is None:
        return []
    rows = [("valid", cells.verdict(validity.valid, "yes", "no"))]
    rows += [("reason", cells.text(r)) for r in validity.reasons]
    rows += [("warning", cells.text(w)) for w in validity.warnings]
    rows += [(name, cells.num(value, ",.4g")) for name, value in sorted(validity.checks.items())]
    return [_key_values("Validity of the measurement", rows)]


def errors_table(report: BenchReport) -> list[Table]:
    errors = report.errors
    if errors.count == 0:
        return []
    rows = [(f"{reason}", cells.num(n, ",d")) for reason, n in sorted(errors.by_reason.items())]
    rows += [("example", cells.text(e)) for e in errors.examples]
    return [_key_values(f"Errors ({errors.count:,})", rows)]


def _request_row(r: NotableRequest) -> tuple[Cell, ...]:
    return (
        cells.text(r.request_id),
        cells.text(r.finish_reason),
        cells.num(r.prompt_tokens, ",d"),
        cells.num(r.output_tokens, ",d"),
        cells.ms(r.ttft_s),
        cells.ms(r.e2e_s),
        cells.text(r.error),
    )


def requests_tables(plot_data: RunPlotData) -> list[Table]:
    columns = ("request id", "finish", "prompt tokens", "output tokens", "TTFT", "E2E", "error")
    tables = []
    if plot_data.slowest:
        tables.append(
            Table("Slowest requests (E2E)", columns, tuple(_request_row(r) for r in plot_data.slowest))
        )
    if plot_data.failed:
        shown = len(plot_data.failed)
        title = f"Failed requests ({plot_data.num_failed:,}" + (
            f", first {shown} shown)" if shown < plot_data.num_failed else ")"
        )
        tables.append(Table(title, columns, tuple(_request_row(r) for r in plot_data.failed)))
    return tables
