"""CLI for `slotune watch`: a live vLLM server against the SLO (docs/watch.md)."""

from __future__ import annotations

import sys

import typer
from rich.live import Live

from slotune.cli.output import console
from slotune.errors import InputError
from slotune.models.watch import WatchTick
from slotune.slo import resolve_slo
from slotune.watch import EXIT_CODES, WatchOptions, http_scrape, watch
from slotune.watch.view import render


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""

    @app.command("watch")
    def watch_cmd(
        url: str = typer.Argument(..., help="The server: http://host:8000 (its /metrics is read)."),
        slo: str | None = typer.Option(None, "--slo", help="Preset or expression, e.g. 'ttft:p99<200ms'."),
        interval: float = typer.Option(5.0, "--interval", help="Seconds between scrapes."),
        duration: float | None = typer.Option(
            None,
            "--duration",
            help="Stop after this many seconds and exit with the verdict (default: until Ctrl-C).",
        ),
        once: bool = typer.Option(
            False, "--once", help="One scrape: the server's whole life so far, then exit."
        ),
        json_out: bool = typer.Option(False, "--json", help="One JSON line per scrape on stdout."),
        server_view: bool = typer.Option(
            False,
            "--server-view",
            help="Judge TTFT and E2E as vLLM's histograms count them, without the API server's HTTP time "
            "around them that clients see (the default adds its mean, from the server's HTTP histogram).",
        ),
    ) -> None:
        """Watch a live vLLM server: SLO attainment per window from its histograms, burn rate, what to change.

        Exit code: 0 the SLO held, 1 it did not, 3 the server could not be scraped, 4 no requests to judge."""
        from slotune.bench.transport import Endpoint

        Endpoint(url)  # an address that is no server's (no http://) is bad input, not an unreachable server
        if interval <= 0:
            raise InputError("interval", interval, "give --interval a positive number of seconds")
        if duration is not None and duration < interval:
            raise InputError("duration", duration, f"give --duration at least --interval ({interval:g} s)")
        options = WatchOptions(
            url=url,
            slo=resolve_slo(slo) if slo else None,
            interval_s=interval,
            duration_s=duration,
            once=once,
            client_view=not server_view,
        )
        scrape = http_scrape(url)
        if json_out:
            final = watch(options, scrape, _print_line)
        elif console.is_terminal:
            with Live(console=console, auto_refresh=False) as live:

                def show(tick: WatchTick) -> None:
                    live.update(render(tick), refresh=True)

                final = watch(options, scrape, show)
        else:
            final = watch(options, scrape, lambda tick: None)
            console.print(render(final))
        raise typer.Exit(EXIT_CODES[final.verdict])


def _print_line(tick: WatchTick) -> None:
    sys.stdout.write(tick.model_dump_json() + "\n")
    sys.stdout.flush()
