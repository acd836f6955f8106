"""Entry point of the `slotune` command."""

from __future__ import annotations

import errno
import sys
from typing import TYPE_CHECKING

import typer

from slotune import __version__
from slotune.cli.lazy import LazyCommand, LazyGroup
from slotune.errors import InputError, SlotuneError

if TYPE_CHECKING:
    from pydantic import ValidationError

# Every command, in the framework's order; each module is imported only when its command runs (start-up time:
# benchmarks/cli_startup.py). The short help is the command's own first docstring line (tests/cli/test_main.py).
COMMANDS: dict[str, LazyCommand] = {
    "workload": LazyCommand("slotune.cli.workload", "Phase 0: workload analysis and synthesis."),
    "slo": LazyCommand("slotune.cli.slo", "Service-level objectives: presets and expression check."),
    "plan": LazyCommand(
        "slotune.cli.plan",
        "Napkin math: weights, KV cache, concurrency, minimum TP, roofline latency and $/Mtok.",
    ),
    "simulate": LazyCommand(
        "slotune.cli.simulate",
        "Simulate serving a workload with vLLM's V1 engine: SLO attainment, goodput, latency percentiles.",
    ),
    "bench": LazyCommand(
        "slotune.cli.bench",
        "Measure an OpenAI-compatible server: TTFT, ITL, TPOT, E2E, throughput, goodput, /metrics deltas.",
    ),
    "calibrate": LazyCommand(
        "slotune.cli.calibrate",
        "Fit the simulator's cost model to short probes of a real vLLM; write the hardware profile.",
    ),
    "validate": LazyCommand(
        "slotune.cli.validate",
        "Run one workload and load on a real engine and on the simulator; report the simulator's error.",
    ),
    "tune": LazyCommand(
        "slotune.cli.tune",
        "Find the cheapest vLLM configuration that meets the SLO: simulator first, real engine to confirm.",
    ),
    "deploy": LazyCommand(
        "slotune.cli.deploy",
        "Render a configuration for vLLM, compose or Kubernetes, with Prometheus rules and a Grafana dashboard.",
    ),
    "watch": LazyCommand(
        "slotune.cli.watch",
        "Watch a live vLLM server: SLO attainment per window from its histograms, burn rate, what to change.",
    ),
    "audit": LazyCommand(
        "slotune.cli.audit",
        "Audit a vLLM deployment for the seed's anti-patterns; every rule runs on the evidence it needs.",
    ),
    "report": LazyCommand(
        "slotune.cli.report",
        "Write one offline HTML report (plots, sortable tables, provenance) from saved results.",
    ),
}


class _Root(LazyGroup):
    lazy_commands = COMMANDS


app = typer.Typer(
    name="slotune",
    help="Serving optimization for LLMs on vLLM: workload -> plan -> simulate/bench -> tune -> deploy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Root,
)


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
    import logging  # only when a command runs: not part of --help's start-up

    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr)


def _describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(input)"
        lines.append(f"{loc}={err.get('input')!r}: {err['msg']}")
    return "; ".join(lines)


def _name_too_long(exc: OSError, argv: list[str]) -> InputError:
    """A path the file system refuses as too long, wherever it was first used, named by the flag that gave it
    (the argument before it on the command line)."""
    value = str(exc.filename)
    at = next((i for i, arg in enumerate(argv) if arg and (arg == value or value.startswith(arg))), None)
    flag = argv[at - 1] if at is not None and at > 0 and argv[at - 1].startswith("--") else None
    fix = f"give {flag} a shorter path" if flag else "give a shorter path"
    return InputError(
        flag or "path", value, fix, problem="a name in it is longer than the file system allows"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Click handles usage errors (exit 2); slotune's own errors are printed here."""
    from slotune.cli.output import err_console
    from slotune.cli.rich_help import import_help_renderer

    import_help_renderer()

    try:
        app(args=argv, prog_name="slotune")
    except SlotuneError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        error = _name_too_long(exc, sys.argv[1:] if argv is None else argv)
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except Exception as exc:
        # Only a command that imported pydantic can raise its ValidationError; --help need not import it.
        pydantic = sys.modules.get("pydantic")
        if pydantic is None or not isinstance(exc, pydantic.ValidationError):
            raise
        err_console.print(
            f"[bold red]error:[/] invalid value: {_describe_validation_error(exc)}. "
            "Fix: correct the value named above.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
