"""CLI for `slotune report`: one self-contained HTML report from saved results (docs/report.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from slotune.cli import checks
from slotune.cli.output import console, emit_json

JSON_HELP = "Machine-readable output on stdout only."


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""

    @app.command("report")
    def report_cmd(
        results: list[Path] = typer.Argument(
            ...,
            help="Saved results: simulate --out, bench --out (a folder or its result.json), a sweep, "
            "workload analyze --out.",
            show_default=False,
            metavar="RESULT",
        ),
        out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    ) -> None:
        """Write one offline HTML report (plots, sortable tables, provenance) from saved results."""
        from slotune.report import build_report  # jinja2 and the plots load only for this command

        checks.output_file("-o/--out", out, example="-o report.html")

        built = build_report(list(results), out)
        summary = {
            "out": str(built.path),
            "size_bytes": built.size_bytes,
            "sections": built.num_sections,
            "figures": built.num_figures,
            "build_s": round(built.build_s, 3),
        }
        if json_out:
            emit_json(summary)
            return
        console.print(
            f"report: {built.path} ({built.size_bytes / 1e6:,.2f} MB, {built.num_sections} sections, "
            f"{built.num_figures} figures, {built.build_s:,.2f} s)",
            highlight=False,
        )
