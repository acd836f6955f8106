"""The load flags of `simulate` and `bench`: declared once here, one meaning (docs/load.md).

`@with_load_flags` gives a command the flags and hands them to it as one `load: LoadFlags` argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from slotune.cli.signature import OptionTable, option_group
from slotune.errors import InputError
from slotune.load.size import DEFAULT_REQUEST_LIMIT, LIMIT_FLAG

if TYPE_CHECKING:
    from slotune.models import LoadSpec

PANEL = "Load (docs/load.md)"
REQUEST_LIMIT_HELP = (
    "Refuse a run of more requests than this before it starts (a guard against a slip like --rate 1e9); "
    "raise it for a bigger run."
)


@dataclass(frozen=True)
class LoadFlags:
    """The load flags as given on the command line."""

    rate: float | None
    arrival: str
    cv: float | None
    concurrency: int | None
    think_time: float
    time_scale: float
    num_requests: int | None
    duration: float | None
    warmup_s: float
    request_limit: int = DEFAULT_REQUEST_LIMIT

    def spec(self) -> LoadSpec:
        """--rate: open loop; --concurrency: closed loop; neither: replay at the workload's own times."""
        from slotune.models import LoadSpec

        if self.rate is not None and self.concurrency is not None:
            raise InputError(
                "--concurrency",
                self.concurrency,
                "give --rate R (open loop) or --concurrency N (closed loop), not both",
            )
        kind = (
            "rate" if self.rate is not None else "concurrency" if self.concurrency is not None else "replay"
        )
        return LoadSpec.model_validate(
            {
                "kind": kind,
                "rate_rps": self.rate,
                "arrival": self.arrival,
                "cv": self.cv,
                "concurrency": self.concurrency,
                "think_time_s": self.think_time,
                "time_scale": self.time_scale,
                "num_requests": self.num_requests,
                "duration_s": self.duration,
                "warmup_s": self.warmup_s,
            }
        )


_FLAGS: OptionTable = {
    "rate": (
        float | None,
        typer.Option(None, "--rate", help="Open loop: mean requests per second, gaps from --arrival."),
    ),
    "arrival": (
        str,
        typer.Option(
            "poisson",
            "--arrival",
            help="Open-loop gaps: poisson, gamma (with --cv), constant, or trace (the workload's own, "
            "scaled to --rate).",
        ),
    ),
    "cv": (float | None, typer.Option(None, "--cv", help="Coefficient of variation of gamma gaps.")),
    "concurrency": (
        int | None,
        typer.Option(
            None, "--concurrency", help="Closed loop: N users, each sending when its last request finished."
        ),
    ),
    "think_time": (
        float,
        typer.Option(
            0.0, "--think-time", help="Closed loop: seconds a user waits after each response (fixed)."
        ),
    ),
    "time_scale": (
        float,
        typer.Option(
            1.0,
            "--time-scale",
            help="Replay (neither --rate nor --concurrency): arrival times x F (0.5 = twice as fast).",
        ),
    ),
    "num_requests": (
        int | None,
        typer.Option(
            None, "--num-requests", help="Measured requests, after the warm-up (default: each request once)."
        ),
    ),
    "duration": (
        float | None,
        typer.Option(None, "--duration", help="Measured window of sends in seconds, after the warm-up."),
    ),
    "warmup_s": (
        float,
        typer.Option(0.0, "--warmup-s", help="Seconds of load sent before measuring (not measured)."),
    ),
    "request_limit": (int, typer.Option(DEFAULT_REQUEST_LIMIT, LIMIT_FLAG, help=REQUEST_LIMIT_HELP)),
}
for _hint, _option in _FLAGS.values():
    _option.rich_help_panel = PANEL


with_load_flags = option_group("load", _FLAGS, LoadFlags)
"""Add the load flags to a typer command that takes `load: LoadFlags`."""
