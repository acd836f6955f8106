"""CLI for `slotune bench`: measure a running OpenAI-compatible server (definitions in docs/metrics.md)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from slotune.bench.results import RECORDS_FILE
from slotune.bench.runner import BenchOutcome, BenchSettings, ProgressReporter, api_key_from_env, run_bench
from slotune.bench.sweep import SweepOutcome, parse_levels, run_sweep
from slotune.bench.sweep_table import cell as sweep_cell
from slotune.bench.sweep_table import columns as sweep_columns
from slotune.bench.sweep_table import sweep_csv
from slotune.cli import checks
from slotune.cli import load_options as lo
from slotune.cli.bench_options import (
    EXIT_INVALID,
    ClientFlags,
    ValidityFlags,
    client_options,
    validity_options,
)
from slotune.cli.engine_flags import engine_options
from slotune.cli.output import console, emit_json, err_console
from slotune.cli.prices import cost_lines, price_options, warn_stale
from slotune.cli.vllm_engine import (
    ENGINES,
    LaunchFlags,
    engine_flags_given,
    launch_options,
    make_launcher,
    report_launch_failure,
    server_request,
)
from slotune.errors import InputError
from slotune.files import write_atomically
from slotune.launch import VllmLauncher
from slotune.launch.bench import bench_launched
from slotune.load.size import amount_flags_of, check_run_size, planned_requests
from slotune.models import SLO, EngineConfig, LoadSpec, PriceBook, PriceUsed, RequestSpec, Workload
from slotune.models.launch import LaunchFailure, ServerRequest
from slotune.models.reports import BenchReport, SweepReport
from slotune.results import RESULT_FILE, report_json
from slotune.slo.verdict import next_steps, verdict_reasons
from slotune.workload.digest import with_digest


class _RichProgress:
    """Progress bar on stderr; the library calls it from its event loop."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            auto_refresh=False,  # no refresh thread: it would take the GIL from the event loop 10 times a second
        )
        self._task: Any = None
        self._last_refresh = 0.0

    def start(self, total: int | None, description: str) -> None:
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, failed=0)

    def update(self, completed: int, failed: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=completed, failed=failed)
            now = time.monotonic()
            if now - self._last_refresh >= 0.5:
                self._last_refresh = now
                self._progress.refresh()

    def stop(self) -> None:
        self._progress.stop()
        self._task = None


def _fixed_workload(input_tokens: int, output_tokens: int) -> Workload:
    if input_tokens < 1 or output_tokens < 1:
        raise InputError(
            "input-tokens/output-tokens", (input_tokens, output_tokens), "give positive token counts"
        )
    spec = RequestSpec(
        request_id="fixed", arrival_s=0.0, prompt_tokens=input_tokens, output_tokens=output_tokens
    )
    return with_digest(
        Workload(name=f"fixed-{input_tokens}-{output_tokens}", requests=(spec,), source="slotune bench")
    )


def _select(
    workload_file: Path | None,
    preset: str | None,
    fmt: str | None,
    tokenizer: str | None,
    flags: lo.LoadFlags,
    *,
    sweep_kind: str | None,
    input_tokens: int,
    output_tokens: int,
    seed: int,
) -> tuple[Workload, LoadSpec]:
    """The workload and the load it runs with (slotune.workload.select, shared with `simulate`), or one
    fixed-length request sent over and over. A sweep (`sweep_kind`) sets each level's rate or users; its
    load carries the rest (arrival, amount), and it runs one workload at every level: a preset's pool."""
    if sweep_kind is not None:
        if sweep_kind not in ("rate", "concurrency"):
            raise InputError("--sweep-kind", sweep_kind, "use rate or concurrency")
        flags = replace(
            flags,
            rate=1.0 if sweep_kind == "rate" else flags.rate,
            concurrency=1 if sweep_kind == "concurrency" else flags.concurrency,
        )
    load = flags.spec()
    if workload_file is not None or preset is not None:
        from slotune.workload.select import select_workload

        chosen = load.with_users(1) if sweep_kind is not None else load
        workload, run_load = select_workload(
            workload_file,
            preset,
            chosen,
            seed=seed,
            fmt=fmt,
            tokenizer_path=tokenizer,
            request_limit=flags.request_limit,
        )
        return workload, load if sweep_kind is not None else run_load
    if load.kind == "replay":
        raise InputError(
            "--rate", None, "give --rate R or --concurrency N: fixed-length requests have no arrival times"
        )
    if load.num_requests is None and load.duration_s is None:
        raise InputError(
            "--num-requests", None, "give --num-requests N or --duration S for fixed-length requests"
        )
    check_run_size(
        planned_requests(load, workload_requests=1),
        limit=flags.request_limit,
        mean_output_tokens=output_tokens,
        amount_flags=amount_flags_of(load),
    )
    return _fixed_workload(input_tokens, output_tokens), load


def _fmt_ms(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isinf(v)) else f"{v * 1e3:,.1f}"


def _render_latency(report: BenchReport) -> None:
    m = report.result.summary
    table = Table(
        title=f"{report.load.description} on {report.result.provenance.server_url}", title_justify="left"
    )
    for col in ("metric (ms)", "mean", "p50", "p90", "p99", "max"):
        table.add_column(col, justify="right" if col != "metric (ms)" else "left")
    for dist, label in (
        (m.ttft_s, "TTFT"),
        (m.itl_s, "ITL (chunk gap)"),
        (m.tpot_s, "TPOT (per request)"),
        (m.e2e_s, "E2E"),
    ):
        table.add_row(label, *(_fmt_ms(dist.stat(s)) for s in ("mean", "p50", "p90", "p99", "max")))
    console.print(table)
    console.print(
        f"requests {m.num_ok:,} ok / {m.num_failed:,} failed in {m.duration_s:.2f} s; "
        f"{m.request_throughput_rps:.2f} req/s; {m.output_tokens_per_s:,.1f} output tok/s; "
        f"{m.total_tokens_per_s:,.1f} total tok/s"
    )
    spans = []
    for key, label in (("ttft_s", "TTFT"), ("itl_s", "ITL"), ("tpot_s", "TPOT"), ("e2e_s", "E2E")):
        ci = report.confidence_intervals.get(key, {}).get("p99")
        if ci:
            spans.append(f"{label} [{_fmt_ms(ci[0])}, {_fmt_ms(ci[1])}]")
    if spans:
        console.print("95% bootstrap interval of p99 (ms): " + ", ".join(spans))
    if m.slo_attainment is not None:
        console.print(
            f"SLO {m.slo_name}: attainment {m.slo_attainment:.1%} (target {m.attainment_target or 0:.0%}), "
            f"goodput {m.goodput_rps or 0:.2f} req/s, met: {m.slo_met}"
        )
        for reason in verdict_reasons(m):
            console.print(f"  why: {reason}", highlight=False)
        for step in next_steps(m):
            console.print(f"  next: {step}", highlight=False)
    if m.cost is not None:
        console.print("cost: " + "\n  ".join(cost_lines(m.cost)), highlight=False)
    client = report.result.client
    if client is not None and client.schedule_lag_s is not None:
        cpu = max(client.cpu_utilization) if client.cpu_utilization else 0.0
        console.print(f"schedule lag p99 {client.schedule_lag_s.p99_s * 1e3:.3f} ms; client CPU {cpu:.0%}")


def _render_run(report: BenchReport) -> None:
    validity = report.result.validity
    if not report.valid:
        console.print("[bold red]INVALID RUN[/]: the numbers are not shown because they cannot be trusted.")
        for reason in report.reasons:
            console.print(f"  - {reason}")
    else:
        _render_latency(report)
    server = report.result.server
    window = server.window if server is not None else None
    engine = report.result.engine
    if window is not None and engine is not None:
        hit = engine.prefix_hit_rate
        queue = window.histograms.get("queue_time_s")
        console.print(
            "server /metrics over the window: "
            f"prefix-cache hit rate {'-' if hit is None else f'{hit:.1%}'}, "
            f"preemptions {engine.num_preemptions}, "
            f"mean queue time {_fmt_ms(queue.mean if queue else None)} ms"
        )
    errors = report.errors
    if errors.count:
        console.print(f"[yellow]{errors.count} failed requests[/] by reason {errors.by_reason}")
        for example in errors.examples[:3]:
            console.print(f"  e.g. {example}")
    for warning in validity.warnings if validity is not None else ():
        console.print(f"[yellow]warning:[/] {warning}")


NO_GPU = "the server's GPUs are unknown: give --gpu ID and --num-gpus N to price the run"


class Pricing(NamedTuple):
    """BenchSettings' pricing fields, by the same names."""

    gpu: str | None = None
    num_gpus: int = 1
    price: PriceUsed | None = None
    price_missing: str | None = None


def _pricing(
    gpu: str | None, num_gpus: int | None, prices: PriceBook, slo: SLO | None, *, default_num_gpus: int = 1
) -> Pricing:
    """The server's GPU (catalog id), how many it holds (`default_num_gpus` unless given), and their price (the
    user's, else the catalog's) or why there is none."""
    from slotune.catalog import get_gpu
    from slotune.catalog.prices import missing_price, price_for, require_price

    if gpu is None:
        given = [p for p in prices.prices.values() if p.source in ("--price", "--prices")]
        if given or num_gpus is not None:
            flag = "--num-gpus" if num_gpus is not None else given[0].source
            raise InputError(flag, None, "give --gpu ID too: a price applies to the GPU the server runs on")
        return Pricing(price_missing=NO_GPU)
    spec = get_gpu(gpu)
    if slo is not None and any(t.metric == "cost" for t in slo.targets):
        price: PriceUsed | None = require_price(spec, prices, "the SLO has a cost target")
    else:
        price = price_for(spec, prices)
    count = default_num_gpus if num_gpus is None else num_gpus
    return Pricing(spec.name, count, price, None if price is not None else missing_price(spec.name))


def _render_sweep(sweep: SweepReport) -> None:
    cols = sweep_columns(sweep)
    table = Table(
        title=f"sweep over {sweep.sweep_kind} (latencies in ms, SLO met in %)", title_justify="left"
    )
    for title in ("level", "valid", *(c.title for c in cols)):
        table.add_column(title, justify="right")
    for p in sweep.points:
        cells = [f"{p.level:.4g}", "yes" if p.valid else "[red]no[/]"]
        for c in cols:
            value = sweep_cell(p, c)
            cells.append("-" if value is None or math.isinf(value) else f"{value * c.scale:,.{c.digits}f}")
        table.add_row(*cells)
    console.print(table)
    _render_sweep_cost(sweep)
    if sweep.max_sustained_rate_rps:
        console.print(f"highest rate sustained: {sweep.max_sustained_rate_rps:.2f} req/s")
    for p in sweep.points:
        for reason in p.invalid_reasons:
            console.print(f"  level {p.level:g}: {reason}")


def _render_sweep_cost(sweep: SweepReport) -> None:
    """$/Mtok by level (valid levels only), with the one price they all used."""
    costs = [(p.level, p.summary.cost) for p in sweep.points if p.valid and p.summary and p.summary.cost]
    priced = [
        (level, cost) for level, cost in costs if cost.price is not None and cost.usd_per_mtok is not None
    ]
    if priced:
        by_level = ", ".join(f"{level:.4g}: ${cost.usd_per_mtok:,.4f}" for level, cost in priced)
        console.print(f"$ per million output tokens by level: {by_level}", highlight=False)
        console.print("  " + cost_lines(priced[-1][1])[-1], highlight=False)
    elif costs:
        console.print(f"cost: {cost_lines(costs[0][1])[0]}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""

    @app.command("bench")
    @engine_options
    @price_options
    @lo.with_load_flags
    @launch_options
    @client_options
    @validity_options
    def bench(
        url: str | None = typer.Option(
            None, "--url", help="Server base URL, e.g. http://127.0.0.1:8000 (with --engine http)."
        ),
        model: str = typer.Option(
            ..., "--model", help="Model name as the server serves it; with --engine vllm the model to serve."
        ),
        workload_file: Path | None = typer.Option(
            None, "--workload", help="Workload, trace or request-log file."
        ),
        preset: str | None = typer.Option(None, "--preset", help="Synthesize the workload from a preset."),
        fmt: str | None = typer.Option(None, "--format", help="Workload file format (default: detected)."),
        input_tokens: int = typer.Option(
            128, "--input-tokens", help="Prompt tokens without --workload/--preset."
        ),
        output_tokens: int = typer.Option(
            128, "--output-tokens", help="Output tokens without --workload/--preset."
        ),
        sweep: str | None = typer.Option(None, "--sweep", help="Levels '1,2,4' or 'auto' (to saturation)."),
        sweep_kind: str | None = typer.Option(
            None,
            "--sweep-kind",
            help="rate or concurrency (default: concurrency with --concurrency, else rate).",
        ),
        tokenizer: str | None = typer.Option(
            None,
            "--tokenizer",
            help="The served model's tokenizer.json (.xz/.gz too) or its model folder. Default: the server's "
            "/tokenize, else the folder --model names.",
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the schedule and the prompts."),
        slo: str | None = typer.Option(
            None, "--slo", help="SLO preset or expression, for goodput and attainment."
        ),
        out: Path | None = typer.Option(None, "--out", help="Folder for result.json and records.jsonl."),
        csv_out: Path | None = typer.Option(
            None, "--csv", help="With --sweep: write the sweep table as CSV (one row per level)."
        ),
        gpu: str | None = typer.Option(
            None,
            "--gpu",
            help="The server's GPU (catalog id, e.g. h100): prices the run (cost per token/request).",
        ),
        num_gpus: int | None = typer.Option(
            None,
            "--num-gpus",
            help="GPUs the server holds (TP x PP x replicas), all paid for. Default: 1; with --engine vllm, TP x PP.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output on stdout only."),
        *,
        engine: EngineConfig,
        load: lo.LoadFlags,
        prices: PriceBook,
        launch: LaunchFlags,
        client: ClientFlags,
        validity: ValidityFlags,
    ) -> None:
        """Measure an OpenAI-compatible server: TTFT, ITL, TPOT, E2E, throughput, goodput, /metrics deltas.

        With --engine vllm it starts vLLM with the engine flags first and stops it afterwards.
        """
        _check_paths(seed, workload_file, out, csv_out, sweep)
        plan = _launch_plan(launch, url, model, engine, out, as_json)
        from slotune.slo import resolve_slo

        slo_value = resolve_slo(slo) if slo else None
        replica_gpus = engine.num_gpus if launch.engine_kind == "vllm" else 1
        pricing = _pricing(gpu, num_gpus, prices, slo_value, default_num_gpus=replica_gpus)
        warn_stale([pricing.price])
        kind = sweep_kind or ("concurrency" if load.concurrency is not None else "rate")
        workload, spec = _select(
            workload_file,
            preset,
            fmt,
            tokenizer,
            load,
            sweep_kind=None if sweep is None else kind,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            seed=seed,
        )
        settings = BenchSettings(
            url=url or "",  # --engine vllm: the launched server's
            model=model,
            load=spec,
            api=client.api,
            seed=seed,
            slo=slo_value,
            out_dir=out,
            api_key=client.api_key or api_key_from_env(),
            tokenizer=tokenizer,
            timeout_s=client.timeout,
            scrape_interval_s=client.scrape_interval,
            exact_output=client.exact_output_wanted,
            prompt_as_token_ids=client.prompt_token_ids,
            clip_prompts=client.clip_prompts,
            thresholds=validity.thresholds(),
            command_line=tuple(sys.argv),
            workers=client.workers,
            event_loop=client.event_loop,
            **pricing._asdict(),
        )
        progress = None if as_json or not err_console.is_terminal else _RichProgress()
        if sweep is not None:
            valid = _run_sweep(plan, settings, workload, sweep, kind, load, progress, as_json, csv_out)
        else:
            valid = _run_one(plan, settings, workload, progress, as_json, out)
        _exit_if_invalid(valid, validity)


def _exit_if_invalid(valid: bool, validity: ValidityFlags) -> None:
    """An invalid run exits 3 (its numbers cannot be trusted), unless --allow-invalid."""
    if not valid and not validity.allow_invalid:
        err_console.print(
            f"[bold red]invalid run[/]: exit {EXIT_INVALID} (the reasons are above); --allow-invalid exits 0",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID)


def _check_paths(
    seed: int, workload: Path | None, out: Path | None, csv_out: Path | None, sweep: str | None
) -> None:
    """What bench reads and writes, checked before anything is sent."""
    checks.check_seed(seed)
    checks.input_file("--workload", workload)
    checks.output_folder("--out", out)
    checks.output_file("--csv", csv_out)
    if csv_out is not None and sweep is None:
        raise InputError("--csv", str(csv_out), "add --sweep LEVELS: --csv writes the sweep table")


def _run_sweep(
    plan: tuple[VllmLauncher, ServerRequest] | None,
    settings: BenchSettings,
    workload: Workload,
    sweep: str,
    kind: str,
    load: lo.LoadFlags,
    progress: ProgressReporter | None,
    as_json: bool,
    csv_out: Path | None = None,
) -> bool:
    levels = parse_levels(sweep)
    cap = load.rate if kind == "rate" else load.concurrency
    if levels != "auto" and cap is not None:
        raise InputError(
            "sweep", sweep, "with a list of levels drop --rate/--concurrency (use --sweep-kind to choose)"
        )

    def measure_sweep(s: BenchSettings) -> SweepOutcome:
        return run_sweep(s, workload, levels, kind=kind, max_level=cap, progress=progress)  # type: ignore[arg-type]

    result = _measured(plan, settings, measure_sweep, as_json)
    if csv_out is not None:
        write_atomically(csv_out, sweep_csv(result.report))
    if as_json:
        emit_json(result.report)
    else:
        _render_sweep(result.report)
        if csv_out is not None:
            console.print(f"sweep table: {csv_out}")
    return result.report.valid


def _run_one(
    plan: tuple[VllmLauncher, ServerRequest] | None,
    settings: BenchSettings,
    workload: Workload,
    progress: ProgressReporter | None,
    as_json: bool,
    out: Path | None,
) -> bool:
    outcome = _measured(plan, settings, lambda s: run_bench(s, workload, progress=progress), as_json)
    if as_json:
        emit_json(report_json(outcome.report))
    else:
        _render_run(outcome.report)
        if out is not None:
            console.print(f"results: {out / RESULT_FILE} (records: {out / RECORDS_FILE})")
    return outcome.valid


def _launch_plan(
    launch: LaunchFlags, url: str | None, model: str, engine: EngineConfig, out: Path | None, as_json: bool
) -> tuple[VllmLauncher, ServerRequest] | None:
    """None for --engine http (checked: a URL and no engine flags); else the launcher and its request."""
    if launch.engine_kind not in ENGINES:
        raise InputError("engine", launch.engine_kind, f"use one of {', '.join(ENGINES)}")
    if launch.engine_kind == "http":
        if url is None:
            raise InputError("url", None, "give --url of a running server, or --engine vllm to start one")
        if given := engine_flags_given(engine, launch.vllm_arg, launch.vllm_env):
            raise InputError(
                "engine", launch.engine_kind, f"add --engine vllm to start a server with {', '.join(given)}"
            )
        return None
    if url is not None:
        raise InputError("url", url, "--engine vllm starts its own server: drop --url")
    request = server_request(
        model=model,
        served_model_name=launch.served_model_name,
        engine_config=engine,
        vllm_args=launch.vllm_arg,
    )
    launcher = make_launcher(
        python=launch.vllm_python,
        env=launch.vllm_env,
        log_dir=out,
        startup_timeout_s=launch.startup_timeout,
        quiet=as_json,
    )
    return launcher, request


M = TypeVar("M", BenchOutcome, SweepOutcome)


def _measured(
    launch: tuple[VllmLauncher, ServerRequest] | None,
    settings: BenchSettings,
    measure: Callable[[BenchSettings], M],
    as_json: bool,
) -> M:
    if launch is None:
        return measure(settings)
    launcher, request = launch
    result = bench_launched(launcher, request, settings, measure)
    if isinstance(result, LaunchFailure):
        raise typer.Exit(report_launch_failure(result, as_json=as_json))
    return result
