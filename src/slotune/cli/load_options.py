"""The load flags of `simulate` and `bench`: declared once, one meaning (docs/load.md)."""

from __future__ import annotations

import typer

from slotune.errors import InputError
from slotune.models import LoadSpec

PANEL = "Load (docs/load.md)"

RATE = typer.Option(
    None, "--rate", help="Open loop: mean requests per second, gaps from --arrival.", rich_help_panel=PANEL
)
ARRIVAL = typer.Option(
    "poisson",
    "--arrival",
    help="Open-loop gaps: poisson, gamma (with --cv), constant, or trace (the workload's own, scaled to --rate).",
    rich_help_panel=PANEL,
)
CV = typer.Option(None, "--cv", help="Coefficient of variation of gamma gaps.", rich_help_panel=PANEL)
CONCURRENCY = typer.Option(
    None,
    "--concurrency",
    help="Closed loop: N users, each sending when its last request finished.",
    rich_help_panel=PANEL,
)
THINK_TIME = typer.Option(
    0.0,
    "--think-time",
    help="Closed loop: seconds a user waits after each response (fixed).",
    rich_help_panel=PANEL,
)
TIME_SCALE = typer.Option(
    1.0,
    "--time-scale",
    help="Replay (neither --rate nor --concurrency): arrival times x F (0.5 = twice as fast).",
    rich_help_panel=PANEL,
)
NUM_REQUESTS = typer.Option(
    None,
    "--num-requests",
    help="Measured requests, after the warm-up (default: each request once).",
    rich_help_panel=PANEL,
)
DURATION = typer.Option(
    None, "--duration", help="Measured window of sends in seconds, after the warm-up.", rich_help_panel=PANEL
)
WARMUP = typer.Option(
    0.0, "--warmup-s", help="Seconds of load sent before measuring (not measured).", rich_help_panel=PANEL
)


def load_from_flags(
    *,
    rate: float | None,
    arrival: str,
    cv: float | None,
    concurrency: int | None,
    think_time: float,
    time_scale: float,
    num_requests: int | None,
    duration: float | None,
    warmup_s: float,
) -> LoadSpec:
    """--rate: open loop; --concurrency: closed loop; neither: replay at the workload's own times."""
    if rate is not None and concurrency is not None:
        raise InputError(
            "--concurrency",
            concurrency,
            "give --rate R (open loop) or --concurrency N (closed loop), not both",
        )
    kind = "rate" if rate is not None else "concurrency" if concurrency is not None else "replay"
    return LoadSpec.model_validate(
        {
            "kind": kind,
            "rate_rps": rate,
            "arrival": arrival,
            "cv": cv,
            "concurrency": concurrency,
            "think_time_s": think_time,
            "time_scale": time_scale,
            "num_requests": num_requests,
            "duration_s": duration,
            "warmup_s": warmup_s,
        }
    )
