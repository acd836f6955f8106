"""CLI for `slotune simulate`: run a workload through the embedded vLLM V1 engine simulator.

Only what declares the options is imported here; the simulator, the models and the tables load when the
command runs (start-up time: benchmarks/cli_startup.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from slotune.cli import checks
from slotune.cli import load_options as lo
from slotune.cli.engine_flags import engine_options
from slotune.cli.output import console, emit_json, err_console
from slotune.cli.prices import cost_lines, price_options, warn_stale

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from slotune.models import Distribution, EngineConfig, PriceBook
    from slotune.models.reports import SimulationReport

JSON_HELP = "Machine-readable output on stdout only."


@contextmanager
def _progress(*, quiet: bool) -> Iterator[Progress | None]:
    if quiet or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} requests"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        yield progress


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:,.1f}"


def _dist_row(table: Table, name: str, d: Distribution) -> None:
    table.add_row(name, *(_ms(v) for v in (d.mean, d.p50, d.p90, d.p95, d.p99, d.max)))


def render(report: SimulationReport) -> None:
    from rich.table import Table

    from slotune.slo.verdict import next_steps, target_text, verdict_reasons

    result = report.result
    s = result.summary
    cfg = result.engine_config
    e, sim = result.engine, result.simulator
    wall_s = report.wall_s or 0.0
    head = Table(
        title=f"Simulated {result.provenance.model} on {result.provenance.gpu} ({result.provenance.workload_name})",
        show_header=False,
        title_justify="left",
    )
    head.add_column(style="bold")
    head.add_column()
    if cfg is not None:
        head.add_row(
            "engine",
            f"max_num_seqs {cfg.max_num_seqs}, max_num_batched_tokens {cfg.max_num_batched_tokens}, "
            f"max_model_len {cfg.max_model_len}, TP {cfg.tensor_parallel_size}, "
            f"prefix caching {'on' if cfg.enable_prefix_caching else 'off'}, "
            f"chunked prefill {'on' if cfg.enable_chunked_prefill else 'off'}, "
            f"{'eager' if cfg.enforce_eager else 'CUDA graphs'}",
        )
    head.add_row(
        "requests",
        f"{s.num_requests:,} ({s.num_ok:,} ok, {s.num_failed:,} failed"
        + (
            f": {', '.join(f'{k} {v}' for k, v in s.failures_by_reason.items())}"
            if s.failures_by_reason
            else ""
        )
        + f") over {s.duration_s:,.1f} s simulated",
    )
    head.add_row(
        "throughput",
        f"{s.request_throughput_rps:,.2f} req/s, {s.output_tokens_per_s:,.0f} output tok/s, "
        f"{s.total_tokens_per_s:,.0f} total tok/s",
    )
    if s.slo_name is not None:
        verdict = "[bold green]met[/]" if s.slo_met else "[bold red]not met[/]"
        head.add_row(
            "SLO",
            f"{s.slo_name}: {verdict}; attainment {s.slo_attainment or 0:.2%} (target {s.attainment_target:.0%}); "
            f"goodput {s.goodput_rps or 0:,.2f} req/s, {s.goodput_output_tokens_per_s or 0:,.0f} tok/s",
        )
        for t in s.targets:
            mark = "[green]pass[/]" if t.passed else "[red]fail[/]"
            head.add_row(
                f"  {t.metric} {t.stat}",
                f"{target_text(t.metric, t.observed)} vs {target_text(t.metric, t.threshold)} {mark}",
            )
        if reasons := verdict_reasons(s):
            head.add_row("  why", "\n".join(reasons))
            head.add_row("  next", "\n".join(f"- {step}" for step in next_steps(s)))
    if s.cost is not None:
        head.add_row("cost", "\n".join(cost_lines(s.cost)))
    if e is not None:
        hit_rate = e.prefix_hit_rate
        head.add_row(
            "KV cache",
            f"usage mean {e.kv_usage_mean or 0:.1%}, max {e.kv_usage_max or 0:.1%} of "
            f"{e.kv_capacity_tokens or 0:,} tokens; prefix hit rate "
            f"{'-' if hit_rate is None else f'{hit_rate:.1%}'}",
        )
    if sim is not None:
        head.add_row(
            "engine",
            f"{sim.num_steps:,} steps, {(e.num_preemptions if e else 0) or 0:,} preemptions, "
            f"mean in flight {sim.in_flight_mean:,.1f}",
        )
    head.add_row(
        "wall time", f"{wall_s:,.2f} s ({s.duration_s / wall_s:,.0f}x real time)" if wall_s > 0 else "-"
    )
    if report.trace_path:
        head.add_row("trace", report.trace_path)
    console.print(head)
    lat = Table(title="Latency (ms)", title_justify="left")
    lat.add_column("metric", style="bold")
    for col in ("mean", "p50", "p90", "p95", "p99", "max"):
        lat.add_column(col, justify="right")
    _dist_row(lat, "TTFT", s.ttft_s)
    _dist_row(lat, "ITL", s.itl_s)
    _dist_row(lat, "TPOT", s.tpot_s)
    _dist_row(lat, "E2E", s.e2e_s)
    console.print(lat)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""

    @app.command("simulate")
    @engine_options
    @price_options
    @lo.with_load_flags
    def simulate_cmd(
        model: str = typer.Option(
            ..., "--model", help="Catalog id (llama-3.1-8b), HF id or config.json path."
        ),
        gpu: str = typer.Option(..., "--gpu", help="Catalog GPU id (h100, a100-80gb, ...)."),
        workload: Path | None = typer.Option(
            None, "--workload", help="Trace or request log (any slotune format)."
        ),
        fmt: str | None = typer.Option(None, "--format", help="Format of --workload (default: detected)."),
        tokenizer: str | None = typer.Option(
            None, "--tokenizer", help="tokenizer.json, for a --workload that holds text."
        ),
        preset: str | None = typer.Option(None, "--preset", help="Synthesize a preset workload instead."),
        slo: str | None = typer.Option(
            None, "--slo", help="Preset name or expression, e.g. 'ttft:p99<200ms'."
        ),
        seed: int = typer.Option(
            0, "--seed", help="Seed of the schedule, preset synthesis and speculative acceptance."
        ),
        profile: str | None = typer.Option(
            None, "--profile", help="Hardware profile: built-in name or YAML path."
        ),
        trace: Path | None = typer.Option(None, "--trace", help="Write a Chrome/Perfetto trace JSON here."),
        out: Path | None = typer.Option(
            None, "--out", help="Save the result here (JSON + records), for report, audit and deploy."
        ),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        *,
        engine: EngineConfig,
        load: lo.LoadFlags,
        prices: PriceBook,
    ) -> None:
        """Simulate serving a workload with vLLM's V1 engine: SLO attainment, goodput, latency percentiles."""
        from slotune.load.size import check_progress
        from slotune.results import report_json, save_result
        from slotune.simulate.api import simulate
        from slotune.slo import resolve_slo
        from slotune.workload.select import select_workload

        checks.check_seed(seed)
        checks.input_file("--workload", workload)
        checks.output_file("--trace", trace)
        checks.output_file_or_folder("--out", out)
        slo_obj = resolve_slo(slo) if slo is not None else None
        wl, run_load = select_workload(
            workload,
            preset,
            load.spec(),
            seed=seed,
            fmt=fmt,
            tokenizer_path=tokenizer,
            request_limit=load.request_limit,
        )
        with _progress(quiet=json_out) as progress:
            task = progress.add_task("sim", total=None) if progress is not None else None

            def on_progress(done: int, total: int | None) -> None:
                if total is None:  # a closed loop over a time window: its size shows only as it runs
                    check_progress(done, limit=load.request_limit)
                if progress is not None and task is not None:
                    progress.update(task, completed=done, total=total)

            report = simulate(
                model,
                gpu,
                wl,
                engine,
                load=run_load,
                slo=slo_obj,
                seed=seed,
                profile=profile,
                trace_path=trace,
                on_progress=on_progress,
                prices=prices,
            )
        cost = report.result.summary.cost
        warn_stale([cost.price if cost is not None else None])
        saved = save_result(report, out) if out is not None else None
        if json_out:
            emit_json(report_json(report))
        else:
            render(report)
            if saved is not None:
                console.print(f"result: {saved}")
