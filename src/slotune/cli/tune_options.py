"""The options of `slotune tune` beyond the core ones, declared once in groups (search space, capacity search,
real engine); `@option_group(NAME, FLAGS)` gives the command the group's flags and hands them to it as one
dict argument NAME."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from slotune.cli.load_options import REQUEST_LIMIT_HELP
from slotune.cli.signature import own_parameters, set_parameters
from slotune.load.size import DEFAULT_REQUEST_LIMIT, LIMIT_FLAG

R = TypeVar("R")
SPACE_PANEL = "Search space"
LOAD_PANEL = "Capacity search (load shape)"
REAL_PANEL = "Real engine (--engine vllm)"


def _opt(default: Any, flag: str, text: str, panel: str) -> Any:
    return typer.Option(default, flag, help=text, rich_help_panel=panel)


SPACE_FLAGS: dict[str, tuple[Any, Any]] = {
    "tiers": (
        str,
        _opt("1,2,3", "--tiers", "The seed's tiers of engine flags to search, e.g. 1,2.", SPACE_PANEL),
    ),
    "space": (
        list[str],
        _opt(
            [],
            "--space",
            "NAME=V1,V2: one engine flag's choices, e.g. max_num_seqs=64,128 (repeat).",
            SPACE_PANEL,
        ),
    ),
    "quantization_choices": (
        list[str],
        _opt([], "--quantization-choice", "Quantization candidates, e.g. fp8,awq (repeat).", SPACE_PANEL),
    ),
    "num_gpus": (
        list[str],
        _opt(
            ["1"], "--num-gpus", "GPU counts: each as one TP group or as replicas, e.g. 1,2,4.", SPACE_PANEL
        ),
    ),
    "speculative": (
        list[str],
        _opt([], "--speculative", "A --speculative-config JSON to try besides off (repeat).", SPACE_PANEL),
    ),
    "grid": (
        bool,
        _opt(True, "--grid/--no-grid", "Measure the auto_tune.sh-style grid baseline.", SPACE_PANEL),
    ),
}

LOAD_FLAGS: dict[str, tuple[Any, Any]] = {
    "arrival": (
        str | None,
        _opt(
            None,
            "--arrival",
            "Open-loop gaps: trace (default where the workload has arrival times), poisson, gamma.",
            LOAD_PANEL,
        ),
    ),
    "cv": (float | None, _opt(None, "--cv", "Coefficient of variation of gamma gaps.", LOAD_PANEL)),
    "num_requests": (
        int,
        _opt(500, "--num-requests", "Measured requests per simulated load level.", LOAD_PANEL),
    ),
    "warmup_s": (float, _opt(0.0, "--warmup-s", "Seconds of load sent before each measurement.", LOAD_PANEL)),
    "request_limit": (int, _opt(DEFAULT_REQUEST_LIMIT, LIMIT_FLAG, REQUEST_LIMIT_HELP, LOAD_PANEL)),
    "rel_tol": (
        float,
        _opt(0.05, "--rel-tol", "Stop bisecting when the bracket is within this ratio.", LOAD_PANEL),
    ),
}

REAL_FLAGS: dict[str, tuple[Any, Any]] = {
    "repeats": (int, _opt(2, "--repeats", "Runs per load level on the real engine.", REAL_PANEL)),
    "confirm": (int, _opt(3, "--confirm", "How many of the simulator's best to confirm.", REAL_PANEL)),
    "real_requests": (
        int,
        _opt(100, "--real-num-requests", "Measured requests per real load level.", REAL_PANEL),
    ),
    "served_model_name": (
        str | None,
        _opt(None, "--served-model-name", "The name to serve the model as.", REAL_PANEL),
    ),
    "vllm_python": (Path | None, _opt(None, "--vllm-python", "Python of the vLLM install.", REAL_PANEL)),
    "vllm_arg": (list[str], _opt([], "--vllm-arg", "One more vLLM flag or value (repeat).", REAL_PANEL)),
    "vllm_env": (
        list[str],
        _opt([], "--vllm-env", "KEY=VALUE for the server, e.g. VLLM_CPU_KVCACHE_SPACE=1.", REAL_PANEL),
    ),
    "startup_timeout": (float, _opt(900.0, "--startup-timeout", "Seconds to wait for /health.", REAL_PANEL)),
    "tokenizer": (
        str | None,
        _opt(None, "--tokenizer", "The served model's tokenizer.json or folder.", REAL_PANEL),
    ),
    "api": (str, _opt("completions", "--api", "completions or chat.", REAL_PANEL)),
}


def option_group(
    name: str, flags: dict[str, tuple[Any, Any]]
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        own = own_parameters(command, name)
        added = [
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=hint)
            for key, (hint, option) in flags.items()
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            group = {key: kwargs.pop(key) for key in flags}
            return command(**kwargs, **{name: group})

        set_parameters(wrapper, [*own, *added])
        return wrapper

    return decorate
