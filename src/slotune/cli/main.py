"""Entry point of the `slotune` command."""

from __future__ import annotations

import logging
import sys

import typer
from pydantic import ValidationError

from slotune import __version__
from slotune.cli import audit, bench, plan, report, simulate, slo, workload
from slotune.cli.output import err_console
from slotune.errors import SlotuneError

app = typer.Typer(
    name="slotune",
    help="Serving optimization for LLMs on vLLM: workload -> plan -> simulate/bench -> tune -> deploy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (workload, slo, plan, simulate, bench, audit, report):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"slotune {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages to stderr."),
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr)


def _describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(input)"
        lines.append(f"{loc}={err.get('input')!r}: {err['msg']}")
    return "; ".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Click handles usage errors (exit 2); slotune's own errors are printed here."""
    try:
        app(args=argv, prog_name="slotune")
    except SlotuneError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except ValidationError as exc:
        err_console.print(
            f"[bold red]error:[/] invalid value: {_describe_validation_error(exc)}. "
            "Fix: correct the value named above.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
