"""CLI for `slotune slo`: list the presets, check an SLO expression."""

from __future__ import annotations

import typer
from rich.table import Table

from slotune.cli.output import console, emit_json
from slotune.slo import PRESETS, format_slo, resolve_slo

slo_app = typer.Typer(help="Service-level objectives: presets and expression check.", no_args_is_help=True)


@slo_app.command("presets")
def presets(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List the named SLO presets."""
    if json_out:
        emit_json(
            [
                {"name": p.name, "slo": p.expression, "objective": p.objective, "why": p.why}
                for p in PRESETS.values()
            ]
        )
        return
    table = Table(title="SLO presets")
    table.add_column("name", no_wrap=True)
    table.add_column("slo", no_wrap=True)
    table.add_column("objective")
    table.add_column("why")
    for p in PRESETS.values():
        table.add_row(p.name, p.expression, p.objective, p.why)
    console.print(table)


@slo_app.command("check")
def check(
    expression: str = typer.Argument(
        ..., help="A preset name or an expression like 'ttft:p99<200ms;itl:p99<50ms@0.99'."
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Parse an SLO and print it in canonical form."""
    slo = resolve_slo(expression)
    if json_out:
        emit_json({"canonical": format_slo(slo), **slo.model_dump(mode="json")})
        return
    console.print(f"[bold]{slo.name}[/]: {format_slo(slo)} (objective: {slo.objective})")
    for t in slo.targets:
        unit = "s" if t.is_latency else ("tok/s" if t.metric == "throughput" else "$/Mtok")
        console.print(
            f"  {t.metric} {t.stat} {'>=' if t.metric == 'throughput' else '<='} {t.threshold:g} {unit}"
        )
    console.print(f"  at least {slo.attainment_target:.1%} of requests meet every latency threshold")


def register(app: typer.Typer) -> None:
    app.add_typer(slo_app, name="slo")
