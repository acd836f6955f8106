"""CLI for `slotune plan`: phase-1 napkin math for one GPU, or every GPU x TP x quantization option (`--gpu all`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from slotune.catalog import get_gpu, get_model, list_gpus
from slotune.cli.engine_flags import engine_options
from slotune.cli.output import console, emit_json, err_console
from slotune.models import SLO, CapacityPlan, EngineConfig, Workload
from slotune.plan import plan_capacity, rank_options
from slotune.plan.explain import explain_lines
from slotune.units import GiB

JSON_HELP = "Machine-readable output on stdout only."


def _gib(value: int | None) -> str:
    return "-" if value is None else f"{value / GiB:,.2f} GiB"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:,.1f} ms"


def render_plan(plan: CapacityPlan, *, explain: bool) -> None:
    status = "[bold green]fits[/]" if plan.fits else "[bold red]does not fit[/]"
    table = Table(
        title=f"{plan.model} on {plan.tensor_parallel_size} x {plan.gpu} ({plan.quantization}, KV {plan.kv_cache_dtype})",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row("verdict", status)
    table.add_row(
        "parameters", f"{plan.total_params / 1e9:,.3f} B total, {plan.active_params / 1e9:,.3f} B active"
    )
    table.add_row("weights", f"{_gib(plan.weights_bytes)} ({_gib(plan.weights_bytes_per_gpu)} per GPU)")
    kv_gpu = plan.kv_bytes_per_token_per_gpu
    table.add_row(
        "KV bytes per token", f"{plan.kv_bytes_per_token:,} ({kv_gpu:,} per GPU)" if kv_gpu else "-"
    )
    budget = (plan.gpu_memory_bytes or 0) * (plan.gpu_memory_utilization or 0)
    table.add_row(
        "memory per GPU",
        f"{_gib(plan.gpu_memory_bytes)} x {plan.gpu_memory_utilization} = {budget / GiB:,.2f} GiB budget; "
        f"activation peak {_gib(plan.activation_peak_bytes)}, non-torch {_gib(plan.non_torch_bytes)}, "
        f"CUDA graphs {_gib(plan.cuda_graph_bytes)}",
    )
    table.add_row(
        "KV cache",
        f"{_gib(plan.kv_cache_bytes)}: {plan.kv_capacity_blocks:,} blocks of {plan.block_size}, "
        f"{plan.kv_capacity_tokens:,} tokens",
    )
    table.add_row(
        "max concurrency",
        f"{plan.max_concurrency:,.2f} at max_model_len={plan.max_model_len:,}; "
        f"{plan.max_concurrency_at_workload or 0:,.1f} at "
        f"{(plan.mean_prompt_tokens or 0) + (plan.mean_output_tokens or 0):,.0f} tokens/request",
    )
    table.add_row("min TP", f"{plan.min_tp}" if plan.min_tp else "none up to 64")
    table.add_row(
        "TTFT (roofline)",
        f"p50 {_ms(plan.ttft_p50_s)} at {plan.prompt_tokens_p50:,} tokens; "
        f"p99 {_ms(plan.ttft_p99_s)} at {plan.prompt_tokens_p99:,} tokens",
    )
    crossover = plan.crossover_batch_size
    table.add_row(
        "decode crossover",
        f"matmuls compute-bound from batch {crossover}" if crossover else "memory-bound at every batch size",
    )
    if plan.max_output_tokens_per_s is not None:
        table.add_row(
            "max throughput",
            f"{plan.max_output_tokens_per_s:,.0f} output tok/s at batch {plan.throughput_batch_size}",
        )
    if plan.usd_per_mtok is not None:
        table.add_row(
            "cost",
            f"${plan.usd_per_mtok:,.4f} per million output tokens "
            f"(${plan.usd_per_gpu_hour}/GPU-h, {plan.price_source})",
        )
    if plan.meets_slo is not None:
        table.add_row(
            "SLO (roofline bound)", "[green]can be met[/]" if plan.meets_slo else "[red]cannot be met[/]"
        )
    console.print(table)

    if plan.itl_by_batch_s:
        itl = Table(
            title=f"Decode ITL by batch (context {plan.decode_context_tokens:,} tokens)", title_justify="left"
        )
        itl.add_column("batch", justify="right")
        itl.add_column("ITL", justify="right")
        itl.add_column("tok/s", justify="right")
        for batch, seconds in plan.itl_by_batch_s.items():
            itl.add_row(f"{batch:,}", _ms(seconds), f"{batch / seconds:,.0f}")
        console.print(itl)
    for reason in plan.reasons:
        console.print(f"[red]-[/] {reason}", highlight=False)
    for note in plan.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)
    if explain:
        render_explain(plan)


def render_explain(plan: CapacityPlan) -> None:
    table = Table(title="How each number was computed", title_justify="left", show_lines=True)
    for col in ("number", "value", "formula", "inputs"):
        table.add_column(col, overflow="fold")
    for name, value, formula, inputs in explain_lines(plan):
        table.add_row(name, value, formula, inputs)
    console.print(table)


def _short(value: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def render_ranking(plans: list[CapacityPlan], model_name: str, slo: SLO | None) -> None:
    if not plans:
        console.print(f"[red]No GPU x TP x quantization option fits {model_name}.[/]")
        return
    table = Table(
        title=f"{model_name}: {len(plans)} options that fit, cheapest $/Mtok first (roofline bounds)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="GiB: weights per GPU; KV: tokens of KV cache; conc: max_model_len requests at once; TTFT (ms) at "
        "the p50 prompt; ITL (ms) at batch 1; tok/s: one replica's steady output; $/Mtok: the GPU's default "
        "dated price (slotune plan --gpu <id> names it)",
        caption_justify="left",
    )
    headers = ("gpu", "tp", "quant", "GiB", "KV", "conc", "TTFT", "ITL", "tok/s", "$/Mtok")
    for col in headers:
        table.add_column(col, justify="left" if col in ("gpu", "quant") else "right", no_wrap=True)
    if slo is not None:
        table.add_column("SLO", no_wrap=True)
    for plan in plans:
        itl_1 = plan.itl_by_batch_s.get(1)
        row = [
            plan.gpu,
            str(plan.tensor_parallel_size),
            plan.quantization,
            f"{(plan.weights_bytes_per_gpu or 0) / GiB:.1f}",
            _short(plan.kv_capacity_tokens),
            f"{plan.max_concurrency:.1f}",
            "-" if plan.ttft_p50_s is None else f"{plan.ttft_p50_s * 1e3:.0f}",
            "-" if itl_1 is None else f"{itl_1 * 1e3:.1f}",
            _short(plan.max_output_tokens_per_s or 0),
            "-" if plan.usd_per_mtok is None else f"{plan.usd_per_mtok:.3f}",
        ]
        if slo is not None:
            row.append("yes" if plan.meets_slo else "no")
        table.add_row(*row)
    console.print(table)


def _read_workload(path: Path | None, fmt: str | None, tokenizer: str | None) -> Workload | None:
    if path is None:
        return None
    from slotune.workload import read_workload

    return read_workload(path, fmt=fmt, tokenizer_path=tokenizer)


def _resolve_slo(text: str | None) -> SLO | None:
    if text is None:
        return None
    from slotune.slo import resolve_slo

    return resolve_slo(text)


@engine_options
def plan_cmd(
    model: str = typer.Option(..., "--model", help="Catalog id, Hugging Face id, or path to a config.json."),
    gpu: str = typer.Option(
        ..., "--gpu", help="GPU id (e.g. h100, a100-80gb, l40s) or 'all' to rank every option."
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
    explain: bool = typer.Option(False, "--explain", help="Print each number's formula and inputs."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    *,
    engine: EngineConfig,
) -> None:
    """Napkin math: weights, KV cache, concurrency, minimum TP, roofline latency and $/Mtok."""
    spec = get_model(model)
    target_slo = _resolve_slo(slo)
    show = not json_out and err_console.is_terminal
    if show:
        with err_console.status("reading the workload" if workload else "planning"):
            loaded = _read_workload(workload, workload_format, tokenizer)
    else:
        loaded = _read_workload(workload, workload_format, tokenizer)

    if gpu.strip().lower() == "all":
        # Without --tensor-parallel-size every size that fits one node is ranked.
        tp_given = "tensor_parallel_size" in engine.model_fields_set
        plans = rank_options(
            spec,
            engine,
            gpus=list_gpus(),
            quantizations=[engine.quantization] if engine.quantization else None,
            tensor_parallel_sizes=[engine.tensor_parallel_size] if tp_given else None,
            workload=loaded,
            slo=target_slo,
        )
        if json_out:
            exclude = None if explain else {"derivations"}
            emit_json(
                {"model": spec.name, "options": [p.model_dump(mode="json", exclude=exclude) for p in plans]}
            )
        else:
            render_ranking(plans, spec.name, target_slo)
            if explain and plans:
                best = plans[0]
                console.print(
                    f"\n[bold]Top option: {best.tensor_parallel_size} x {best.gpu}, {best.quantization}[/]"
                )
                render_explain(best)
        return

    plan = plan_capacity(spec, get_gpu(gpu), engine, workload=loaded, slo=target_slo)
    if json_out:
        emit_json(plan)
    else:
        render_plan(plan, explain=explain)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("plan")(plan_cmd)
