"""How `slotune plan` prints a plan and a ranking (rich tables); imported only when the command runs."""

from __future__ import annotations

from rich import box
from rich.table import Table

from slotune.catalog.prices import PRICE_FIX
from slotune.cli.output import console
from slotune.cli.prices import cost_lines
from slotune.cost import usd_text
from slotune.models import SLO, CapacityPlan, PlanRanking
from slotune.plan.explain import explain_lines
from slotune.plan.planner import throughput_per_gpu
from slotune.units import GiB


def _gib(value: int | None) -> str:
    return "-" if value is None else f"{value / GiB:,.2f} GiB"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:,.1f} ms"


def render_plan(plan: CapacityPlan, *, explain: bool) -> None:
    status = "[bold green]fits[/]" if plan.fits else "[bold red]does not fit[/]"
    table = Table(
        title=f"{plan.model} on {plan.tensor_parallel_size} x {plan.gpu} ({plan.quantization}, KV {plan.kv.cache_dtype})",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row("verdict", status)
    for label, text in (*_size_rows(plan), *_latency_rows(plan)):
        table.add_row(label, text)
    console.print(table)
    if plan.latency.itl_by_batch_s:
        console.print(_itl_table(plan))
    for reason in plan.verdict.reasons:
        console.print(f"[red]-[/] {reason}", highlight=False)
    for note in plan.verdict.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)
    if explain:
        render_explain(plan)


def _size_rows(plan: CapacityPlan) -> list[tuple[str, str]]:
    weights, mem, kv = plan.weights, plan.memory, plan.kv
    workload_tokens = plan.throughput.mean_prompt_tokens + plan.throughput.mean_output_tokens
    return [
        (
            "parameters",
            f"{weights.total_params / 1e9:,.3f} B total, {weights.active_params / 1e9:,.3f} B active",
        ),
        ("weights", f"{_gib(weights.bytes)} ({_gib(mem.weights_bytes)} per GPU)"),
        ("KV bytes per token", f"{kv.bytes_per_token:,} ({kv.bytes_per_token_per_gpu:,} per GPU)"),
        (
            "memory per GPU",
            f"{_gib(mem.gpu_memory_bytes)} x {mem.gpu_memory_utilization} = {mem.budget_bytes / GiB:,.2f} GiB "
            f"budget; activation peak {_gib(mem.activation_peak_bytes)}, non-torch {_gib(mem.non_torch_bytes)}, "
            f"CUDA graphs {_gib(mem.cuda_graph_bytes)}",
        ),
        (
            "KV cache",
            f"{_gib(mem.kv_cache_bytes)}: {kv.capacity_blocks:,} blocks of {kv.block_size}, "
            f"{kv.capacity_tokens:,} tokens",
        ),
        (
            "max concurrency",
            f"{kv.max_concurrency:,.2f} at max_model_len={plan.engine.max_model_len:,}; "
            f"{kv.max_concurrency_at_workload:,.1f} at {workload_tokens:,.0f} tokens/request",
        ),
        ("min TP", f"{plan.verdict.min_tp}" if plan.verdict.min_tp else "none up to 64"),
    ]


def _latency_rows(plan: CapacityPlan) -> list[tuple[str, str]]:
    latency, throughput, cost = plan.latency, plan.throughput, plan.cost
    crossover = latency.crossover_batch_size
    rows = [
        (
            "TTFT (roofline)",
            f"p50 {_ms(latency.ttft_p50_s)} at {latency.prompt_tokens_p50:,} tokens; "
            f"p99 {_ms(latency.ttft_p99_s)} at {latency.prompt_tokens_p99:,} tokens",
        ),
        (
            "decode crossover",
            f"matmuls compute-bound from batch {crossover}"
            if crossover
            else "memory-bound at every batch size",
        ),
    ]
    if throughput.output_tokens_per_s is not None:
        rows.append(
            (
                "max throughput",
                f"{throughput.output_tokens_per_s:,.0f} output tok/s at batch {throughput.batch_size}",
            )
        )
    rows.append(("cost", "\n".join(cost_lines(cost))))
    if plan.verdict.meets_slo is not None:
        met = "[green]can be met[/]" if plan.verdict.meets_slo else "[red]cannot be met[/]"
        rows.append(("SLO (roofline bound)", met))
    return rows


def _itl_table(plan: CapacityPlan) -> Table:
    itl = Table(
        title=f"Decode ITL by batch (context {plan.latency.decode_context_tokens:,} tokens)",
        title_justify="left",
    )
    itl.add_column("batch", justify="right")
    itl.add_column("ITL", justify="right")
    itl.add_column("tok/s", justify="right")
    for batch, seconds in plan.latency.itl_by_batch_s.items():
        itl.add_row(f"{batch:,}", _ms(seconds), f"{batch / seconds:,.0f}")
    return itl


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


_RANK_TITLE: dict[str, str] = {
    "cost": "cheapest $/Mtok first",
    "throughput-per-gpu": "most output tok/s per GPU first",
}


def render_ranking(ranking: PlanRanking, slo: SLO | None) -> None:
    plans = ranking.options
    if not plans:
        console.print(f"[red]No GPU x TP x quantization option fits {ranking.model}.[/]")
        _render_prices(ranking)
        return
    by_tput = ranking.rank_by == "throughput-per-gpu"
    table = Table(
        title=f"{ranking.model}: {len(plans)} options that fit, {_RANK_TITLE[ranking.rank_by]} (roofline bounds)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="GiB: weights per GPU; KV: tokens of KV cache; conc: max_model_len requests at once; TTFT (ms) at "
        "the p50 prompt; ITL (ms) at batch 1; tok/s: one replica's steady output"
        + ("; /GPU: tok/s per GPU" if by_tput else "")
        + "; $/Mtok: every GPU of the replica at the price listed below",
        caption_justify="left",
    )
    headers = ["gpu", "tp", "quant", "GiB", "KV", "conc", "TTFT", "ITL", "tok/s", "$/Mtok"]
    if by_tput:
        headers.insert(-1, "/GPU")
    for col in headers:
        table.add_column(col, justify="left" if col in ("gpu", "quant") else "right", no_wrap=True)
    if slo is not None:
        table.add_column("SLO", no_wrap=True)
    for plan in plans:
        table.add_row(*_ranking_row(plan, by_tput=by_tput, with_slo=slo is not None))
    console.print(table)
    _render_prices(ranking)


def _ranking_row(plan: CapacityPlan, *, by_tput: bool, with_slo: bool) -> list[str]:
    itl_1 = plan.latency.itl_by_batch_s.get(1)
    usd = plan.cost.usd_per_mtok
    row = [
        plan.gpu,
        str(plan.tensor_parallel_size),
        plan.quantization,
        f"{plan.memory.weights_bytes / GiB:.1f}",
        _short(plan.kv.capacity_tokens),
        f"{plan.kv.max_concurrency:.1f}",
        f"{plan.latency.ttft_p50_s * 1e3:.0f}",
        "-" if itl_1 is None else f"{itl_1 * 1e3:.1f}",
        _short(plan.throughput.output_tokens_per_s or 0),
        "-" if usd is None else f"{usd:.3f}",
    ]
    if by_tput:
        row.insert(-1, _short(throughput_per_gpu(plan)))
    if with_slo:
        row.append("yes" if plan.verdict.meets_slo else "no")
    return row


def _render_prices(ranking: PlanRanking) -> None:
    """Which price each ranked GPU's $/Mtok used, and which GPUs were left out for want of one."""
    prices = {p.cost.price.gpu: p.cost.price for p in ranking.options if p.cost.price is not None}
    if prices:
        files = {f"{p.source} = {p.file}" for p in prices.values() if p.file}
        table = Table(
            title="Prices used",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            caption="; ".join(
                [*sorted(files), "citations: slotune plan --gpu <id>, or cost.price in --json"]
            ),
            caption_justify="left",
        )
        for col in ("gpu", "$/GPU-h", "provider", "kind", "date", "source"):
            table.add_column(col, justify="right" if col == "$/GPU-h" else "left", overflow="fold")
        for gpu, price in prices.items():
            row = (price.provider or "-", price.kind, price.date or "undated", price.source)
            table.add_row(gpu, usd_text(price.usd_per_gpu_hour), *row)
        console.print(table)
    unpriced = [p.gpu for p in ranking.options if p.cost.price is None]
    if unpriced:
        console.print(
            f"No price, no $/Mtok: {', '.join(dict.fromkeys(unpriced))}. Fix: {PRICE_FIX}", highlight=False
        )
    if ranking.unpriced_gpus:
        console.print(
            f"Not ranked, no price: {', '.join(ranking.unpriced_gpus)}. Fix: {PRICE_FIX}, or rank with "
            "--rank-by throughput-per-gpu",
            highlight=False,
        )
