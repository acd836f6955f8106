"""`vllm serve` as a shell script, and vLLM's own YAML config file with the command that reads it."""

from __future__ import annotations

import shlex

from slotune.deploy.flags import config_file
from slotune.deploy.targets.common import comment, dump_yaml, header_lines, server_args
from slotune.models.deploy import Deployment

SERVE = "vllm serve"


def _script(d: Deployment, head: list[str], flags: list[str], *, beside: bool = False) -> str:
    lines = ["#!/usr/bin/env bash", *(f"# {line}" for line in header_lines(d))]
    lines.append("# A gated model needs HF_TOKEN in the environment; VLLM_API_KEY, if set, guards /v1.")
    lines.append("set -euo pipefail")
    if beside:  # the config file is read from the script's own folder
        lines.append('cd "$(dirname "$0")"')
    body = " \\\n    ".join([" ".join(shlex.quote(a) for a in head), *_pairs(flags)])
    return "\n".join(lines) + "\nexec " + body + "\n"


def _pairs(flags: list[str]) -> list[str]:
    """One flag per line, with its value."""
    out: list[str] = []
    for arg in flags:
        if arg.startswith("--"):
            out.append(arg)
        else:
            out[-1] += " " + shlex.quote(arg)
    return out


def render_cmd(d: Deployment) -> dict[str, str]:
    return {"serve.sh": _script(d, [*SERVE.split(), d.model], [*server_args(d), *d.vllm_args])}


def render_config(d: Deployment) -> dict[str, str]:
    values = {
        "model": d.model,
        "served-model-name": d.served_model_name,
        "host": "0.0.0.0",
        "port": d.port,
        **d.engine_flags,
    }
    mapping, command_line = config_file(values, d.vllm_version)
    lines = header_lines(d)
    if command_line:
        lines.append(
            f"vLLM {d.vllm_version} ignores a false boolean in this file, so serve.sh passes "
            + " ".join(command_line)
            + " on the command line."
        )
    config = comment(lines) + dump_yaml(mapping)
    return {
        "vllm-config.yaml": config,
        "serve.sh": _script(d, SERVE.split(), ["--config", "vllm-config.yaml", *command_line], beside=True),
    }
