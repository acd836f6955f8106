"""`--engine vllm` for commands that start a vLLM server: its options, and how a failed start is shown."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from slotune.cli.output import emit_json, err_console
from slotune.errors import InputError
from slotune.launch import VllmLauncher
from slotune.models import EngineConfig
from slotune.models.engine_config import flag_name
from slotune.models.launch import LaunchFailure, ServerRequest

ENGINES = ("http", "vllm")
EXIT_LAUNCH_FAILED = 1


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
        raise InputError("startup-timeout", startup_timeout_s, "give a positive number of seconds")

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
