"""CLI for `slotune plan`: phase-1 napkin math for one GPU, or every GPU x TP x quantization option (`--gpu all`).

Only what declares the options is imported here; the planner, the catalog and the tables load when the command
runs (start-up time: benchmarks/cli_startup.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from slotune.cli import checks
from slotune.cli.engine_flags import engine_options
from slotune.cli.output import emit_json, err_console
from slotune.cli.prices import price_options, warn_stale
from slotune.errors import InputError

if TYPE_CHECKING:
    from slotune.models import (
        SLO,
        CapacityPlan,
        EngineConfig,
        GpuSpec,
        PlanRanking,
        PriceBook,
        RankBy,
        Workload,
    )

JSON_HELP = "Machine-readable output on stdout only."


def _read_workload(path: Path | None, fmt: str | None, tokenizer: str | None) -> Workload | None:
    if path is None:
        return None
    from slotune.workload import read_workload

    checks.input_file("--workload", path)
    with checks.flags_named({"--format": "--workload-format"}):
        return read_workload(path, fmt=fmt, tokenizer_path=tokenizer)


def _resolve_slo(text: str | None) -> SLO | None:
    if text is None:
        return None
    from slotune.slo import resolve_slo

    return resolve_slo(text)


RANK_BY_HELP = (
    "Rank the options (with --gpu all, a list of GPUs, or one GPU's TP x quantization options): cost "
    "(cheapest $/Mtok first; only GPUs with a price) or throughput-per-gpu (no price needed). Default: cost."
)


def _ranked_gpus(gpu: str, rank_by: str | None) -> tuple[list[GpuSpec], bool] | None:
    """The GPUs to rank and whether the user named them; None for a single plan."""
    from slotune.catalog import get_gpu, list_gpus

    if gpu.strip().lower() == "all":
        return list_gpus(), False
    if "," in gpu or rank_by is not None:
        return [get_gpu(name) for name in gpu.split(",") if name.strip()], True
    return None


def _check_rank_by(rank_by: str | None) -> RankBy:
    if rank_by in (None, "cost"):
        return "cost"
    if rank_by == "throughput-per-gpu":
        return "throughput-per-gpu"
    raise InputError("rank-by", rank_by, "use --rank-by cost or --rank-by throughput-per-gpu")


@engine_options
@price_options
def plan_cmd(
    model: str = typer.Option(..., "--model", help="Catalog id, Hugging Face id, or path to a config.json."),
    gpu: str = typer.Option(
        ...,
        "--gpu",
        help="GPU id (e.g. h100, a100-80gb, l40s), a comma-separated list, or 'all' to rank every option.",
    ),
    workload: Path | None = typer.Option(
        None, "--workload", help="Trace or request log: its prompt/output lengths."
    ),
    workload_format: str | None = typer.Option(
        None, "--workload-format", help="Format of --workload (auto)."
    ),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="tokenizer.json for a text --workload."),
    slo: str | None = typer.Option(
        None, "--slo", help="Preset or expression, e.g. 'ttft:p99<200ms;itl:p99<50ms'."
    ),
    profile: str | None = typer.Option(
        None, "--profile", help="Hardware profile for the latencies: built-in name or YAML path (default)."
    ),
    rank_by: str | None = typer.Option(None, "--rank-by", help=RANK_BY_HELP),
    explain: bool = typer.Option(False, "--explain", help="Print each number's formula and inputs."),
    csv_out: Path | None = typer.Option(
        None, "--csv", help="Also write the table as CSV (one row per option) for a spreadsheet."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    *,
    engine: EngineConfig,
    prices: PriceBook,
) -> None:
    """Napkin math: weights, KV cache, concurrency, minimum TP, roofline latency and $/Mtok."""
    from slotune.catalog import get_gpu, get_model, load_profile
    from slotune.catalog.prices import require_price
    from slotune.cli.plan_render import render_plan
    from slotune.plan import plan_capacity, rank_options

    checks.output_file("--csv", csv_out)
    spec = get_model(model)
    target_slo = _resolve_slo(slo)
    hardware = load_profile(profile)
    order = _check_rank_by(rank_by)
    show = not json_out and err_console.is_terminal
    if show:
        with err_console.status("reading the workload" if workload else "planning"):
            loaded = _read_workload(workload, workload_format, tokenizer)
    else:
        loaded = _read_workload(workload, workload_format, tokenizer)

    ranked = _ranked_gpus(gpu, rank_by)
    if ranked is not None:
        gpus, named = ranked
        if named and order == "cost":  # the user named these GPUs and asked for a cost: each needs a price
            for spec_gpu in gpus:
                require_price(spec_gpu, prices, "--rank-by cost ranks by price")
        # Without --tensor-parallel-size every size that fits one node is ranked.
        tp_given = "tensor_parallel_size" in engine.model_fields_set
        ranking = rank_options(
            spec,
            engine,
            gpus=gpus,
            quantizations=[engine.quantization] if engine.quantization else None,
            tensor_parallel_sizes=[engine.tensor_parallel_size] if tp_given else None,
            workload=loaded,
            slo=target_slo,
            profile=hardware,
            prices=prices,
            rank_by=order,
        )
        warn_stale(p.cost.price for p in ranking.options)
        _write_csv(csv_out, ranking.options, quiet=json_out)
        _emit_ranking(ranking, target_slo, explain=explain, json_out=json_out)
        return

    plan = plan_capacity(
        spec, get_gpu(gpu), engine, workload=loaded, slo=target_slo, profile=hardware, prices=prices
    )
    warn_stale([plan.cost.price])
    _write_csv(csv_out, [plan], quiet=json_out)
    if json_out:
        emit_json(plan)
    else:
        render_plan(plan, explain=explain)


def _write_csv(path: Path | None, plans: Sequence[CapacityPlan], *, quiet: bool) -> None:
    if path is None:
        return
    from slotune.files import write_atomically
    from slotune.plan.table import plans_csv

    write_atomically(path, plans_csv(plans))
    if not quiet:
        err_console.print(f"plan table: {path}", highlight=False)


def _emit_ranking(ranking: PlanRanking, slo: SLO | None, *, explain: bool, json_out: bool) -> None:
    from slotune.cli.output import console
    from slotune.cli.plan_render import render_explain, render_ranking

    if json_out:
        exclude = None if explain else {"options": {"__all__": {"derivations"}}}
        emit_json(ranking.model_dump(mode="json", exclude=exclude))
        return
    render_ranking(ranking, slo)
    if explain and ranking.options:
        best = ranking.options[0]
        console.print(f"\n[bold]Top option: {best.tensor_parallel_size} x {best.gpu}, {best.quantization}[/]")
        render_explain(best)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("plan")(plan_cmd)
