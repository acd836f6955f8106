"""Option groups of `slotune bench` (and of commands that measure a server the same way): how the client
sends and times requests, and when a run counts as valid. Declared once; a decorator hands each group to the
command as one value."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from slotune.bench.context_fit import CLIP_FLAG
from slotune.bench.validity import ValidityThresholds
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
    exact_output: bool
    no_exact_output: bool
    prompt_token_ids: bool
    clip_prompts: bool
    workers: int
    event_loop: str

    @property
    def exact_output_wanted(self) -> bool | None:
        """--exact-output: True; --no-exact-output: False; neither: None (on for vLLM servers)."""
        return True if self.exact_output else (False if self.no_exact_output else None)

    def __post_init__(self) -> None:
        if self.exact_output and self.no_exact_output:
            raise InputError("--exact-output", "both", "give --exact-output or --no-exact-output, not both")
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
    allow_invalid: bool
    strict: bool  # the default since invalid runs exit 3; accepted for old scripts

    def thresholds(self) -> ValidityThresholds:
        lag_s = self.max_lag_ms / 1e3
        return ValidityThresholds(
            max_schedule_lag_p99_s=lag_s, max_loop_lag_p99_s=lag_s, max_error_fraction=self.max_error_rate
        )

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
    # The --no- form is a hidden option of its own, named in the help, so that the option table keeps every flag
    # name whole at 80 columns (a --x/--no-x pair takes a column of its own).
    "exact_output": (
        bool,
        _opt(
            False,
            "--exact-output",
            panel=CLIENT_PANEL,
            help="Ask for exact lengths (ignore_eos, min_tokens); default: on for vLLM. Off: --no-exact-output.",
        ),
    ),
    "no_exact_output": (bool, typer.Option(False, "--no-exact-output", hidden=True)),
    "prompt_token_ids": (
        bool,
        _opt(False, "--prompt-token-ids", panel=CLIENT_PANEL, help="Completions: send token ids, not text."),
    ),
    "clip_prompts": (
        bool,
        _opt(
            False,
            CLIP_FLAG,
            panel=CLIENT_PANEL,
            help="Shorten requests that do not fit the server's max_model_len (default: refuse the run).",
        ),
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
    "allow_invalid": (
        bool,
        _opt(
            False,
            "--allow-invalid",
            panel=VALIDITY_PANEL,
            help=f"Exit 0 when the run is invalid (default: exit {EXIT_INVALID}).",
        ),
    ),
    "strict": (bool, typer.Option(False, "--strict", hidden=True, help="The default; kept for old scripts.")),
}

client_options = option_group("client", CLIENT_OPTIONS, ClientFlags)
validity_options = option_group("validity", VALIDITY_OPTIONS, ValidityFlags)
