"""CLI for `slotune tune`: the cheapest configuration that meets the SLO, simulator first, real engine to confirm
(docs/tuning.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from slotune.cli import checks
from slotune.cli.engine_flags import engine_options
from slotune.cli.output import console, emit_json, err_console
from slotune.cli.prices import price_options
from slotune.cli.tune_options import LOAD_FLAGS, REAL_FLAGS, SPACE_FLAGS, option_group
from slotune.cli.tune_render import LiveTable, render
from slotune.cli.vllm_engine import make_launcher, server_request
from slotune.errors import InputError
from slotune.load.size import check_run_size
from slotune.models import EngineConfig, LoadSpec, PriceBook
from slotune.models.tune import TuneReport
from slotune.results import save_result


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _ints(values: list[str], flag: str) -> list[int]:
    try:
        out = [int(v) for v in _split(values)]
    except ValueError as exc:
        raise InputError(flag, values, f"give whole numbers, e.g. {flag} 1,2,4") from exc
    if not out or min(out) < 1:
        raise InputError(flag, values, f"give positive whole numbers, e.g. {flag} 1,2")
    return out


def _load(
    workload: Any, arrival: str | None, cv: float | None, num_requests: int, warmup_s: float
) -> LoadSpec:
    """An open loop at a placeholder rate (the capacity search sets it) with the user's arrival shape: the
    workload's own gaps where it has arrival times, else Poisson."""
    if arrival is None:
        arrival = "trace" if workload.duration_s > 0 and len(workload.requests) > 1 else "poisson"
    return LoadSpec(
        kind="rate", rate_rps=1.0, arrival=arrival, cv=cv, num_requests=num_requests, warmup_s=warmup_s
    )


@contextlib.contextmanager
def _real_engine(enabled: bool, **kwargs: Any) -> Iterator[Any]:
    """An EngineProber on a VllmBackend (closed at the end), or None for --engine sim."""
    if not enabled:
        yield None
        return
    from slotune.launch.backend import VllmBackend
    from slotune.tune.probe import EngineProber

    launcher = make_launcher(
        python=kwargs["vllm_python"],
        env=kwargs["vllm_env"],
        log_dir=kwargs["log_dir"],
        startup_timeout_s=kwargs["startup_timeout"],
        quiet=kwargs["quiet"],
    )
    request = server_request(
        model=kwargs["model"],
        served_model_name=kwargs["served_model_name"],
        engine_config=EngineConfig(),
        vllm_args=kwargs["vllm_arg"],
    )
    with VllmBackend(launcher, request) as backend:
        yield EngineProber(
            backend,
            kwargs["workload"],
            seed=kwargs["seed"],
            http_options={"tokenizer": kwargs["tokenizer"], "api": kwargs["api"]},
        )


def _emit(report: TuneReport, out: Path | None, as_json: bool) -> None:
    saved = save_result(report, out) if out is not None else None
    if as_json:
        emit_json(report.model_dump(mode="json"))
        return
    render(report)
    if saved is not None:
        console.print(f"result: {saved}")


def _options(core: dict[str, Any], space: dict[str, Any], load: dict[str, Any], real: dict[str, Any]) -> Any:
    """TuneOptions from the command's option groups (the real engine's prober is added by the caller)."""
    from slotune.slo import resolve_slo
    from slotune.tune import TuneOptions
    from slotune.tune.space import parse_space_overrides
    from slotune.tune.study import default_storage

    wl = core["workload"]
    spec = _load(wl, load["arrival"], load["cv"], load["num_requests"], load["warmup_s"])
    return TuneOptions(
        model=core["model"],
        gpus=_split(core["gpu"]),
        workload=wl,
        slo=resolve_slo(core["slo"]),
        load=spec,
        storage=core["storage"] or default_storage(core["out"]),
        engine=core["engine_kind"],
        budget=core["budget"],
        base=core["engine"],
        quantizations=_split(space["quantization_choices"]) or [None],
        num_gpus=_ints(space["num_gpus"], "--num-gpus"),
        speculative=[None, *space["speculative"]],
        tiers=_ints([space["tiers"]], "--tiers"),
        space_overrides=parse_space_overrides(space["space"]),
        objective=core["objective"],
        target_rate_rps=core["rate"],
        seed=core["seed"],
        profile=core["profile"],
        prices=core["prices"],
        study_name=core["study"],
        worker=core["worker"],
        grid=space["grid"],
        rel_tol=load["rel_tol"],
        repeats=real["repeats"],
        confirm=real["confirm"],
        real_load=spec.model_copy(update={"num_requests": real["real_requests"]}),
        served_model=real["served_model_name"],
    )


def _check(core: dict[str, Any], load: dict[str, Any], real: dict[str, Any]) -> None:
    checks.check_seed(core["seed"])
    checks.input_file("--workload", core["workload_file"])
    checks.output_file("--out", core["out"])
    for count, flag in (
        (load["num_requests"], "--num-requests"),
        (real["real_requests"], "--real-num-requests"),
    ):
        check_run_size(count, limit=load["request_limit"], what="one load level", amount_flags=flag)
    if core["engine_kind"] not in ("sim", "vllm"):
        raise InputError("--engine", core["engine_kind"], "use sim or vllm")
    if core["objective"] not in ("cost", "goodput-per-gpu"):
        raise InputError("--objective", core["objective"], "use cost or goodput-per-gpu")
    if core["budget"] < 1:
        raise InputError("--budget", core["budget"], "give at least 1 configuration")
    if not core["workload_file"].is_file():
        raise InputError("--workload", str(core["workload_file"]), "give an existing workload or trace file")
    if core["rate"] is not None and core["rate"] <= 0:
        raise InputError("--rate", core["rate"], "give a positive target rate in req/s, or leave --rate out")


def run_tune(core: dict[str, Any], space: dict[str, Any], load: dict[str, Any], real: dict[str, Any]) -> None:
    import optuna

    from slotune.tune import tune
    from slotune.workload.io import read_workload

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the live table says what each trial found
    _check(core, load, real)
    with checks.flags_named({"--format": "--workload-format"}):
        workload = read_workload(core["workload_file"], fmt=core["workload_format"])
    core = {**core, "workload": workload}
    opts = _options(core, space, load, real)
    quiet = core["as_json"] or not err_console.is_terminal
    live = LiveTable(opts.budget, opts.objective, enabled=not quiet)
    out = core["out"]
    engine_args = {
        **real,
        "model": core["model"],
        "log_dir": out.parent if out is not None else None,
        "quiet": quiet,
        "workload": opts.workload,
        "seed": opts.seed,
    }
    with _real_engine(opts.engine == "vllm", **engine_args) as prober, live:
        opts.real_prober = prober
        opts.on_point = live.on_point
        opts.on_phase = live.on_phase
        report = tune(opts)
    _emit(report, out, core["as_json"])


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""

    @app.command("tune")
    @engine_options
    @price_options
    @option_group("space", SPACE_FLAGS)
    @option_group("load", LOAD_FLAGS)
    @option_group("real", REAL_FLAGS)
    def tune_cmd(
        model: str = typer.Option(
            ..., "--model", help="Catalog id, HF id or model folder (served as it is with --engine vllm)."
        ),
        gpu: list[str] = typer.Option(..., "--gpu", help="GPU(s) to search: catalog ids (repeat or comma)."),
        workload_file: Path = typer.Option(..., "--workload", help="The workload (any slotune format)."),
        workload_format: str | None = typer.Option(
            None, "--workload-format", help="Format of --workload (auto)."
        ),
        slo: str = typer.Option(..., "--slo", help="SLO preset or expression, e.g. interactive-chat."),
        engine_kind: str = typer.Option(
            "sim", "--engine", help="sim: the simulator only; vllm: then confirm on a vLLM it starts."
        ),
        budget: int = typer.Option(
            100, "--budget", help="Configurations to evaluate, a capacity search each."
        ),
        storage: str | None = typer.Option(
            None, "--storage", help="Study storage URL (default: sqlite:///slotune-tune.db beside --out)."
        ),
        study: str | None = typer.Option(
            None, "--study", help="Study name (default: derived from the inputs)."
        ),
        worker: bool = typer.Option(False, "--worker", help="Join a study started elsewhere; search only."),
        out: Path | None = typer.Option(None, "--out", help="Save the TuneReport here (JSON)."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output on stdout only."),
        seed: int = typer.Option(0, "--seed", help="Seed of the schedule and the sampler."),
        profile: str | None = typer.Option(
            None, "--profile", help="Simulator hardware profile: name or path."
        ),
        rate: float | None = typer.Option(
            None, "--rate", help="Target request rate: size each configuration's replicas (fewest GPUs)."
        ),
        objective: str = typer.Option(
            "cost", "--objective", help="cost ($/Mtok at the SLO) or goodput-per-gpu."
        ),
        *,
        engine: EngineConfig,
        prices: PriceBook,
        space: dict[str, Any],
        load: dict[str, Any],
        real: dict[str, Any],
    ) -> None:
        """Find the cheapest vLLM configuration that meets the SLO: simulator first, real engine to confirm."""
        core = {k: v for k, v in locals().items() if k not in ("space", "load", "real")}
        run_tune(core, space, load, real)
