"""Option groups of `slotune bench` (and of commands that measure a server the same way): how the client
sends and times requests, and when a run counts as valid. Declared once; a decorator hands each group to the
command as one value."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from slotune.cli.signature import OptionTable, option_group
from slotune.errors import InputError

CLIENT_PANEL = "Client"
VALIDITY_PANEL = "Validity"
EXIT_INVALID = 3


@dataclass(frozen=True, slots=True)
class ClientFlags:
    """How the load generator talks to the server."""

    api: str
    api_key: str | None
    timeout: float
    scrape_interval: float
    exact_output: bool | None
    prompt_token_ids: bool
    workers: int
    event_loop: str

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise InputError("timeout", self.timeout, "give a positive per-request --timeout in seconds")
        if not self.scrape_interval > 0:
            raise InputError(
                "scrape-interval", self.scrape_interval, "give a positive --scrape-interval in seconds"
            )


@dataclass(frozen=True, slots=True)
class ValidityFlags:
    """When a measured run's numbers can be trusted, and what the exit code says when they cannot."""

    max_lag_ms: float
    max_error_rate: float
    strict: bool

    def __post_init__(self) -> None:
        if not 0 <= self.max_error_rate <= 1:
            raise InputError("max-error-rate", self.max_error_rate, "give a --max-error-rate between 0 and 1")


def _opt(default: object, *names: str, panel: str, help: str) -> typer.models.OptionInfo:
    return typer.Option(default, *names, help=help, rich_help_panel=panel)


CLIENT_OPTIONS: OptionTable = {
    "api": (str, _opt("completions", "--api", panel=CLIENT_PANEL, help="completions or chat.")),
    "api_key": (
        str | None,
        _opt(
            None,
            "--api-key",
            panel=CLIENT_PANEL,
            help="API key (default: SLOTUNE_API_KEY or OPENAI_API_KEY); never written out.",
        ),
    ),
    "timeout": (float, _opt(600.0, "--timeout", panel=CLIENT_PANEL, help="Per-request timeout in seconds.")),
    "scrape_interval": (
        float,
        _opt(1.0, "--scrape-interval", panel=CLIENT_PANEL, help="Seconds between /metrics scrapes."),
    ),
    "exact_output": (
        bool | None,
        _opt(
            None,
            "--exact-output/--no-exact-output",
            panel=CLIENT_PANEL,
            help="Ask for exact lengths (ignore_eos, min_tokens); default: on for vLLM.",
        ),
    ),
    "prompt_token_ids": (
        bool,
        _opt(False, "--prompt-token-ids", panel=CLIENT_PANEL, help="Completions: send token ids, not text."),
    ),
    "workers": (
        int,
        _opt(1, "--workers", panel=CLIENT_PANEL, help="Load-generator processes (for very high rates)."),
    ),
    "event_loop": (
        str,
        _opt(
            "auto",
            "--event-loop",
            panel=CLIENT_PANEL,
            help="auto (uvloop where installed), asyncio or uvloop.",
        ),
    ),
}

VALIDITY_OPTIONS: OptionTable = {
    "max_lag_ms": (
        float,
        _opt(10.0, "--max-lag-ms", panel=VALIDITY_PANEL, help="Validity: schedule lag p99 limit."),
    ),
    "max_error_rate": (
        float,
        _opt(0.01, "--max-error-rate", panel=VALIDITY_PANEL, help="Validity: failed-request fraction limit."),
    ),
    "strict": (
        bool,
        _opt(False, "--strict", panel=VALIDITY_PANEL, help=f"Exit {EXIT_INVALID} when the run is invalid."),
    ),
}

client_options = option_group("client", CLIENT_OPTIONS, ClientFlags)
validity_options = option_group("validity", VALIDITY_OPTIONS, ValidityFlags)
