"""CLI for `slotune validate`: the same workload and load on a real engine and on the simulator; the errors."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import typer
from rich.table import Table

from slotune.cli import checks
from slotune.cli import load_options as lo
from slotune.cli.calibrate import model_spec_of, tokenizer_of
from slotune.cli.engine_flags import engine_options
from slotune.cli.output import console, emit_json
from slotune.cli.vllm_engine import (
    ENGINES,
    VllmFlags,
    parse_env_pairs,
    report_launch_failure,
    with_vllm_flags,
)
from slotune.errors import InputError
from slotune.models import SLO, EngineConfig, LoadSpec, Workload
from slotune.models.validation import ValidationReport
from slotune.results import report_json, save_result
from slotune.validate.api import RealBackend, SimulatedDeployment, simulated_engine_config


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1e3:,.2f} ms"
    if unit in ("tokens", "count"):
        return f"{value:,.0f}"
    return f"{value:,.2f} {unit}"


def render(report: ValidationReport) -> None:
    measured = report.measured
    p = measured.provenance
    head = Table(
        title=f"Validation of {report.profile}: {p.model} on {p.gpu or report.simulated.provenance.gpu}",
        show_header=False,
        title_justify="left",
    )
    head.add_column(style="bold")
    head.add_column()
    load = measured.load.describe() if measured.load is not None else "-"
    head.add_row("workload", f"{p.workload_name} ({measured.summary.num_requests:,} requests), {load}")
    head.add_row("engine", f"{p.engine_version or p.backend}; simulator profile {report.profile}")
    if report.host_load is not None:
        head.add_row(
            "host load", f"{report.host_load[0]:.1f} before, {report.host_load[1]:.1f} after (1-min)"
        )
    console.print(head)
    table = Table(title="Simulated vs measured", title_justify="left")
    for col in ("metric", "stat", "measured", "simulated", "error"):
        table.add_column(col, justify="left" if col in ("metric", "stat") else "right")
    for e in report.errors:
        err = e.relative_error
        table.add_row(
            e.metric,
            e.stat,
            _value(e.measured, e.unit),
            _value(e.simulated, e.unit),
            "-" if err is None else f"{err:+.1%}",
        )
    console.print(table)


def _real_backend(
    engine_kind: str,
    url: str | None,
    model: str,
    engine: EngineConfig,
    vllm: VllmFlags,
    http_settings: dict[str, object],
    out: Path | None,
    as_json: bool,
) -> RealBackend:
    """The HTTP backend at --url, or a VllmBackend that starts vLLM with the engine flags."""
    from slotune.bench.http_backend import HttpBackend
    from slotune.launch.backend import VllmBackend
    from slotune.models.launch import ServerRequest

    if engine_kind not in ENGINES:
        raise InputError("engine", engine_kind, f"use one of {', '.join(ENGINES)}")
    if engine_kind == "http":
        if url is None:
            raise InputError("url", None, "give --url of a running server, or --engine vllm to start one")
        if given := vllm.given():
            raise InputError(
                "engine", engine_kind, f"add --engine vllm to start a server with {', '.join(given)}"
            )
        return HttpBackend(url, model, **http_settings)  # type: ignore[arg-type]
    if url is not None:
        raise InputError("url", url, "--engine vllm starts its own server: drop --url")
    launcher = vllm.launcher(log_dir=out.parent if out is not None else None, quiet=as_json)
    request = ServerRequest(
        model=model,
        served_model_name=vllm.served_model_name,
        engine_config=engine,
        extra_args=tuple(vllm.vllm_arg),
        env=parse_env_pairs(vllm.vllm_env),
    )
    return VllmBackend(launcher, request, http_backend=functools.partial(HttpBackend, **http_settings))  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    @app.command("validate")
    @engine_options
    @with_vllm_flags
    @lo.with_load_flags
    def validate_cmd(
        profile: str = typer.Option(
            ..., "--profile", help="Hardware profile under test: built-in name or YAML."
        ),
        gpu: str = typer.Option(..., "--gpu", help="Catalog id of the device the engine runs on."),
        model: str = typer.Option(
            ..., "--model", help="With --engine vllm the model to serve; with --url the served model's name."
        ),
        engine_kind: str = typer.Option(
            "vllm", "--engine", help="vllm: start vLLM with the engine flags; http: the server at --url."
        ),
        url: str | None = typer.Option(None, "--url", help="A running server (with --engine http)."),
        model_spec: str | None = typer.Option(
            None,
            "--model-spec",
            help="Architecture for the simulator (default: the model folder's config.json).",
        ),
        workload: Path | None = typer.Option(
            None, "--workload", help="Trace or request log (any slotune format)."
        ),
        preset: str | None = typer.Option(None, "--preset", help="Synthesize a preset workload instead."),
        tokenizer: str | None = typer.Option(
            None, "--tokenizer", help="Tokenizer for exact prompt lengths (default: the model folder's)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the schedule and the prompts (both sides)."),
        slo: str | None = typer.Option(None, "--slo", help="SLO preset or expression (both sides)."),
        timeout: float = typer.Option(600.0, "--timeout", help="Per-request timeout in seconds."),
        out: Path | None = typer.Option(None, "--out", help="Save the validation result (JSON) here."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output on stdout only."),
        *,
        engine: EngineConfig,
        vllm: VllmFlags,
        load: lo.LoadFlags,
    ) -> None:
        """Run one workload and load on a real engine and on the simulator; report the simulator's error.

        With --engine http the engine flags describe the server at --url (the simulator runs with them)."""
        from slotune.launch.backend import LaunchError
        from slotune.slo import resolve_slo
        from slotune.validate.api import deployment_for
        from slotune.workload.select import select_workload

        # Checked before a server starts: a mistake must not cost a start-up and a measured run.
        checks.check_seed(seed)
        checks.input_file("--workload", workload)
        checks.output_file_or_folder("--out", out)
        if not timeout > 0:
            raise InputError("timeout", timeout, "give a positive per-request --timeout in seconds")
        spec = model_spec_of(model, model_spec)
        deployment = deployment_for(spec, gpu, profile)
        slo_value = resolve_slo(slo) if slo else None
        wl, run_load = select_workload(
            workload, preset, load.spec(), seed=seed, request_limit=load.request_limit
        )
        http_settings: dict[str, object] = {
            "tokenizer": tokenizer_of(model, tokenizer),
            "load": run_load,
            "seed": seed,
            "timeout_s": timeout,
            "exact_output": True,
        }
        real = _real_backend(engine_kind, url, model, engine, vllm, http_settings, out, as_json)
        simulated = simulated_engine_config(engine, parse_env_pairs(vllm.vllm_env))
        try:
            report = _run(real, deployment, wl, simulated, run_load, seed, slo_value)
        except LaunchError as exc:
            raise typer.Exit(report_launch_failure(exc.failure, as_json=as_json)) from exc
        if out is not None:
            save_result(report, out)
        if as_json:
            emit_json(report_json(report))
        else:
            render(report)
            if out is not None:
                console.print(f"result: {out}")


def _run(
    real: RealBackend,
    deployment: SimulatedDeployment,
    workload: Workload,
    engine: EngineConfig,
    load: LoadSpec,
    seed: int,
    slo: SLO | None,
) -> ValidationReport:
    """Validate, and stop a server this command started, whatever happens."""
    from slotune.validate.api import validate

    close = getattr(real, "close", None)
    try:
        return validate(
            real, deployment, workload, engine, load=load, seed=seed, slo=slo, command=tuple(sys.argv)
        )
    finally:
        if close is not None:
            close()
