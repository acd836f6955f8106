"""`--engine vllm` for commands that start a vLLM server: its options, and how a failed start is shown."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import typer

from slotune.cli.output import emit_json, err_console
from slotune.cli.signature import OptionTable, option_group
from slotune.errors import InputError
from slotune.launch import VllmLauncher
from slotune.models import EngineConfig
from slotune.models.engine_config import flag_name
from slotune.models.launch import LaunchFailure, ServerRequest

ENGINES = ("http", "vllm")
EXIT_LAUNCH_FAILED = 1
LAUNCH_PANEL = "Server (--engine vllm starts one)"


@dataclass(frozen=True, slots=True)
class LaunchFlags:
    """Which server to measure: the one at --url, or a vLLM slotune starts (and stops) itself."""

    engine_kind: str
    served_model_name: str | None
    vllm_python: Path | None
    vllm_arg: list[str]
    vllm_env: list[str]
    startup_timeout: float


def _opt(default: object, *names: str, help: str) -> typer.models.OptionInfo:
    return typer.Option(default, *names, help=help, rich_help_panel=LAUNCH_PANEL)


LAUNCH_OPTIONS: OptionTable = {
    "engine_kind": (
        str,
        _opt(
            "http", "--engine", help="http: measure the server at --url; vllm: start vLLM, measure, stop it."
        ),
    ),
    "served_model_name": (
        str | None,
        _opt(
            None, "--served-model-name", help="vllm: the name to serve the model as (default: folder name)."
        ),
    ),
    "vllm_python": (
        Path | None,
        _opt(
            None,
            "--vllm-python",
            help="vllm: Python of the vLLM install (default: SLOTUNE_VLLM_PYTHON, else this).",
        ),
    ),
    "vllm_arg": (
        list[str],
        _opt([], "--vllm-arg", help="vllm: one more vLLM flag or value, checked against that vLLM (repeat)."),
    ),
    "vllm_env": (
        list[str],
        _opt(
            [], "--vllm-env", help="vllm: KEY=VALUE for the server, e.g. VLLM_CPU_KVCACHE_SPACE=4 (repeat)."
        ),
    ),
    "startup_timeout": (float, _opt(900.0, "--startup-timeout", help="vllm: seconds to wait for /health.")),
}

launch_options = option_group("launch", LAUNCH_OPTIONS, LaunchFlags)
"""Give a command --engine http|vllm and the vLLM launch options, as one `launch: LaunchFlags` argument."""


def parse_env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise InputError("vllm-env", pair, "write KEY=VALUE, e.g. --vllm-env VLLM_CPU_KVCACHE_SPACE=4")
        env[key.strip()] = value
    return env


def vllm_python(option: Path | None) -> Path:
    """--vllm-python, else SLOTUNE_VLLM_PYTHON, else this Python (slotune installed beside vLLM)."""
    if option is not None:
        return option
    return Path(os.environ.get("SLOTUNE_VLLM_PYTHON") or sys.executable)


def engine_flags_given(engine: EngineConfig, vllm_args: Sequence[str], vllm_env: Sequence[str]) -> list[str]:
    """The engine flags (or --config values) given, which only a launched server can take."""
    named = [flag_name(name) for name in sorted(engine.model_fields_set - {"model"})]
    return named + (["--vllm-arg"] if vllm_args else []) + (["--vllm-env"] if vllm_env else [])


def server_request(
    *,
    model: str,
    served_model_name: str | None,
    engine_config: EngineConfig,
    vllm_args: Sequence[str],
) -> ServerRequest:
    return ServerRequest(
        model=model,
        served_model_name=served_model_name,
        engine_config=engine_config,
        extra_args=tuple(vllm_args),
    )


def make_launcher(
    *, python: Path | None, env: Sequence[str], log_dir: Path | None, startup_timeout_s: float, quiet: bool
) -> VllmLauncher:
    """`env` (KEY=VALUE) reaches the server and the Python that reads vLLM's flags alike."""
    if startup_timeout_s <= 0:
        raise InputError(
            "startup-timeout", startup_timeout_s, "give --startup-timeout a positive number of seconds"
        )

    def announce(argv: list[str], log_path: Path) -> None:
        if not quiet:
            err_console.print(f"starting vLLM (log: {log_path}): {' '.join(argv[3:])}", highlight=False)

    return VllmLauncher(
        vllm_python(python),
        log_dir=log_dir or Path(tempfile.gettempdir()) / "slotune-vllm-logs",
        startup_timeout_s=startup_timeout_s,
        env=parse_env_pairs(env),
        on_start=announce,
    )


def report_launch_failure(failure: LaunchFailure, *, as_json: bool) -> int:
    """Show why vLLM did not start; returns the exit code."""
    if as_json:
        emit_json({"launch_failure": failure.model_dump(mode="json")})
    else:
        err_console.print(f"[bold red]error:[/] {failure.describe()}", highlight=False, soft_wrap=True)
        if failure.log_excerpt:
            err_console.print(failure.log_excerpt, highlight=False, markup=False, soft_wrap=True)
    return EXIT_LAUNCH_FAILED


@dataclass(frozen=True)
class VllmFlags:
    """How a command that starts vLLM starts it (--vllm-python, --vllm-arg, --vllm-env, ...)."""

    served_model_name: str | None
    vllm_python: Path | None
    vllm_arg: list[str]
    vllm_env: list[str]
    startup_timeout: float

    def launcher(self, *, log_dir: Path | None, quiet: bool) -> VllmLauncher:
        return make_launcher(
            python=self.vllm_python,
            env=self.vllm_env,
            log_dir=log_dir,
            startup_timeout_s=self.startup_timeout,
            quiet=quiet,
        )

    def given(self) -> list[str]:
        """The flags given that only a launched server can use."""
        named = [("--served-model-name", self.served_model_name), ("--vllm-python", self.vllm_python)]
        return (
            [flag for flag, value in named if value is not None]
            + (["--vllm-arg"] if self.vllm_arg else [])
            + (["--vllm-env"] if self.vllm_env else [])
        )


# Commands that always start vLLM (calibrate, validate --engine vllm): the launch options without --engine.
with_vllm_flags = option_group(
    "vllm", {name: option for name, option in LAUNCH_OPTIONS.items() if name != "engine_kind"}, VllmFlags
)
"""Give a command the vLLM start-up flags, as one `vllm: VllmFlags` argument."""
