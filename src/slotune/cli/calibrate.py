"""CLI for `slotune calibrate`: probe a real vLLM, fit the simulator's cost model, write a hardware profile."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from slotune.cli import checks
from slotune.cli.engine_flags import engine_options
from slotune.cli.output import console, emit_json, err_console
from slotune.cli.vllm_engine import VllmFlags, report_launch_failure, with_vllm_flags
from slotune.errors import InputError
from slotune.models import EngineConfig, HardwareProfile
from slotune.models.calibration import ProbeData, ProbeSet

if TYPE_CHECKING:
    from slotune.calibrate.allreduce import AllreduceRow

MODES = ("default", "eager")


def model_spec_of(model: str, model_spec: str | None) -> str:
    """The architecture the simulator reads: --model-spec, else the served folder's config.json, else the
    --model value itself (a catalog or Hugging Face id)."""
    if model_spec is not None:
        return model_spec
    config = Path(model) / "config.json"
    return str(config) if config.is_file() else model


def tokenizer_of(model: str, tokenizer: str | None) -> str | None:
    """--tokenizer, else the served folder when it holds a tokenizer.json, else the server's /tokenize."""
    if tokenizer is not None:
        return tokenizer
    return model if (Path(model) / "tokenizer.json").is_file() else None


def parse_modes(text: str) -> tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InputError("modes", text, f"give --modes a comma-separated list of {', '.join(MODES)}")
    return modes


def check_inputs(
    seed: int,
    out: Path,
    save_probes: Path | None,
    from_probes: list[Path],
    prior: str | None,
    allreduce: Path | None,
) -> list[AllreduceRow]:
    """Everything calibrate reads or writes, checked before a server starts (probing takes minutes); returns
    the all-reduce rows (none without --allreduce)."""
    from slotune.calibrate.allreduce import read_allreduce_rows
    from slotune.catalog import load_profile

    checks.check_seed(seed)
    checks.output_file("--out", out)
    checks.output_file("--save-probes", save_probes)
    for path in from_probes:
        checks.input_file("--from-probes", path)
    if prior is not None:
        try:
            load_profile(prior)
        except InputError as exc:
            raise InputError("--prior", prior, exc.fix, problem=exc.problem) from exc
    return read_allreduce_rows(allreduce) if allreduce is not None else []


def render(profile: HardwareProfile, out: Path) -> None:
    cal = profile.calibration
    assert cal is not None
    head = Table(title=f"Calibrated {profile.label}", show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    head.add_row("fitted on", f"{cal.model_spec} ({cal.model}) on {cal.hardware}, vLLM {cal.vllm_version}")
    head.add_row("probes", f"{len(cal.probes)} in {cal.probe_wall_s:,.0f} s; fit {cal.fit_wall_s:,.1f} s")
    head.add_row(
        "fit",
        f"rms log error {cal.rms_log_error or 0:.3f}, largest error {cal.max_abs_relative_error or 0:.1%}",
    )
    c = profile.coefficients
    for name in cal.fitted:
        head.add_row(f"  {name}", f"{getattr(c, name):.4g}")
    console.print(head)
    table = Table(title="Probes: measured vs fitted (ms)", title_justify="left")
    for col in ("probe", "mode", "statistic", "measured", "fitted", "error"):
        table.add_column(col, justify="left" if col in ("probe", "mode", "statistic") else "right")
    for p in cal.probes:
        for stat, value in p.measured.items():
            got = p.predicted.get(stat)
            err = "-" if got is None else f"{got / value - 1:+.1%}"
            table.add_row(
                p.name, p.mode, stat, f"{value * 1e3:,.3f}", "-" if got is None else f"{got * 1e3:,.3f}", err
            )
    console.print(table)
    console.print(f"profile: {out}")


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    @engine_options
    @with_vllm_flags
    def calibrate_cmd(
        model: str | None = typer.Option(
            None, "--model", help="The model vLLM serves (a folder or an id); with --from-probes not needed."
        ),
        gpu: str | None = typer.Option(
            None, "--gpu", help="Catalog id of the device vLLM runs on (h200, cpu-epyc-2c, ...)."
        ),
        out: Path = typer.Option(..., "--out", help="Write the fitted hardware profile (YAML) here."),
        engine_kind: str = typer.Option("vllm", "--engine", help="The engine to probe: vllm."),
        model_spec: str | None = typer.Option(
            None, "--model-spec", help="Architecture for the simulator (default: the folder's config.json)."
        ),
        tokenizer: str | None = typer.Option(
            None, "--tokenizer", help="Tokenizer for exact prompt lengths (default: the model folder's)."
        ),
        modes: str = typer.Option(
            "default,eager",
            "--modes",
            help="Server configurations to probe: default (the flags given), eager.",
        ),
        scale: str = typer.Option("full", "--scale", help="Probe sizes: full (minutes) or quick (tests)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the probes' prompt contents."),
        prior: str | None = typer.Option(
            None, "--prior", help="Profile the fit starts from and keeps for what the probes cannot tell."
        ),
        allreduce: Path | None = typer.Option(
            None, "--allreduce", help="Output of benchmarks/allreduce_probe.py: the tensor-parallel terms."
        ),
        name: str | None = typer.Option(None, "--name", help="Profile name (default: GPU-model)."),
        save_probes: Path | None = typer.Option(
            None, "--save-probes", help="Keep the probe data here (JSON), written as probes finish."
        ),
        from_probes: list[Path] = typer.Option(
            [], "--from-probes", help="Fit from saved probe files instead of probing (repeat to merge)."
        ),
        probes_only: bool = typer.Option(
            False, "--probes-only", help="Probe and save (--save-probes), do not fit."
        ),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output on stdout only."),
        *,
        engine: EngineConfig,
        vllm: VllmFlags,
    ) -> None:
        """Fit the simulator's cost model to short probes of a real vLLM; write the hardware profile."""
        from slotune.calibrate.allreduce import fit_allreduce
        from slotune.calibrate.api import load_probe_set
        from slotune.calibrate.profile import fit_profile
        from slotune.catalog import get_gpu, write_profile

        if engine_kind != "vllm":
            raise InputError("engine", engine_kind, "calibrate probes vLLM: use --engine vllm")
        if scale not in ("quick", "full"):
            raise InputError("scale", scale, "use --scale full or --scale quick")
        if probes_only and save_probes is None:
            raise InputError("probes-only", True, "add --save-probes FILE to keep what the probes measure")
        allreduce_rows = check_inputs(seed, out, save_probes, from_probes, prior, allreduce)
        if from_probes:
            sets = [load_probe_set(p) for p in from_probes]
        else:
            sets = [
                _probe(
                    model,
                    gpu,
                    engine,
                    vllm,
                    model_spec,
                    tokenizer,
                    modes,
                    scale,
                    seed,
                    save_probes,
                    out,
                    as_json,
                )
            ]
            if probes_only:
                console.print(f"probes: {save_probes}")
                return
        link = get_gpu(sets[0].gpu).intra_node_bytes_per_s
        fitted = fit_allreduce(allreduce_rows, link, str(allreduce)) if allreduce_rows else None
        profile = fit_profile(sets, prior=prior, name=name, allreduce=fitted)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_profile(profile, out)
        if as_json:
            emit_json(profile)
        else:
            render(profile, out)


def _probe(
    model: str | None,
    gpu: str | None,
    engine: EngineConfig,
    vllm: VllmFlags,
    model_spec: str | None,
    tokenizer: str | None,
    modes: str,
    scale: str,
    seed: int,
    save_probes: Path | None,
    out: Path,
    as_json: bool,
) -> ProbeSet:
    from slotune.calibrate.api import ProbeJob, collect_probes
    from slotune.catalog import get_gpu
    from slotune.cli.vllm_engine import parse_env_pairs
    from slotune.launch.backend import LaunchError

    if model is None:
        raise InputError("model", None, "give --model (the model vLLM serves), or --from-probes FILE")
    if gpu is None:
        raise InputError("gpu", None, "give --gpu, the catalog id of the device vLLM runs on (e.g. h200)")
    get_gpu(gpu)  # an unknown id fails before a server starts
    job = ProbeJob(
        model=model,
        model_spec=model_spec_of(model, model_spec),
        gpu=gpu,
        engine_config=engine,
        modes=parse_modes(modes),  # type: ignore[arg-type]
        scale=scale,  # type: ignore[arg-type]
        seed=seed,
        tokenizer=tokenizer_of(model, tokenizer),
        served_model_name=vllm.served_model_name,
        extra_args=tuple(vllm.vllm_arg),
        env=parse_env_pairs(vllm.vllm_env),
    )
    launcher = vllm.launcher(log_dir=(save_probes or out).parent, quiet=as_json)

    def announce(probe: ProbeData) -> None:
        if not as_json:
            err_console.print(
                f"probe {probe.mode}/{probe.name}: {len(probe.records)} requests, {probe.wall_s:.1f} s"
            )

    try:
        return collect_probes(launcher, job, save_to=save_probes, on_probe=announce)
    except LaunchError as exc:
        raise typer.Exit(report_launch_failure(exc.failure, as_json=as_json)) from exc
