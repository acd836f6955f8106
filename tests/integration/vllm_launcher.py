"""The integration tests' real vLLM (CPU build) on the tiny model, started by slotune's own launcher.

Used by the integration tests' fixtures (conftest.py) and by benchmarks/compare_vllm_client.py.
`scripts/setup_integration.sh` installs `.venv-vllm` and writes `.models/tiny-llama`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from slotune.launch import VllmLauncher, VllmServer
from slotune.models import EngineConfig
from slotune.models.launch import LaunchFailure, ServerRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
VLLM_PYTHON = REPO_ROOT / ".venv-vllm" / "bin" / "python"
TINY_MODEL_DIR = REPO_ROOT / ".models" / "tiny-llama"
TOKENIZER_JSON = REPO_ROOT / "tests" / "data" / "tokenizers" / "qwen3" / "tokenizer.json"

SERVED_MODEL = "tiny-llama"
# vLLM's CPU attention needs a multiple of 32 (16 fails at start-up); workloads that share prefixes use
# this as their hash block size so that shared blocks line up with the server's cache blocks.
BLOCK_SIZE = 32
MAX_MODEL_LEN = 2048
KV_CACHE_SPACE_GIB = 1
# 2 x 4 layers x 4 KV heads x 32 head_dim x 2 B (bf16): see scripts/make_tiny_model.py.
KV_BYTES_PER_TOKEN = 2048
STARTUP_TIMEOUT_S = 240.0
# Ports of their own, away from servers others start by hand (8000 and up).
PORT_RANGE = (18000, 18999)

# Start-up ~26 s with --enforce-eager instead of ~48 s with torch.compile; serving behaviour is the same.
TINY_ENGINE = EngineConfig(max_model_len=MAX_MODEL_LEN, block_size=BLOCK_SIZE, enforce_eager=True)
# Per-request cached prompt tokens in `usage.prompt_tokens_details.cached_tokens`.
TINY_EXTRA_ARGS = ("--enable-prompt-tokens-details", "--disable-uvicorn-access-log")
# Nothing may come from a hub: the model and tokenizer are local files.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


class ServerStartError(RuntimeError):
    """The server did not become healthy; the message ends with its log excerpt."""

    def __init__(self, failure: LaunchFailure) -> None:
        self.failure = failure
        super().__init__(f"{failure.describe()}\n{failure.log_excerpt}")


def missing_installation() -> list[str]:
    """What scripts/setup_integration.sh has not installed yet (empty when ready)."""
    needed = (VLLM_PYTHON, TINY_MODEL_DIR / "config.json")
    return [str(p.relative_to(REPO_ROOT)) for p in needed if not p.exists()]


def tiny_launcher(log_dir: Path, env: Mapping[str, str] | None = None) -> VllmLauncher:
    return VllmLauncher(
        VLLM_PYTHON,
        log_dir=log_dir,
        port_range=PORT_RANGE,
        startup_timeout_s=STARTUP_TIMEOUT_S,
        env={**OFFLINE_ENV, **(env or {})},
        cwd=REPO_ROOT,
    )


def tiny_request(
    engine_config: EngineConfig = TINY_ENGINE, *, kv_cache_space_gib: int | None = 1
) -> ServerRequest:
    """The tiny model; its KV cache from VLLM_CPU_KVCACHE_SPACE unless `kv_cache_space_gib` is None."""
    env = {} if kv_cache_space_gib is None else {"VLLM_CPU_KVCACHE_SPACE": str(kv_cache_space_gib)}
    return ServerRequest(
        model=str(TINY_MODEL_DIR),
        served_model_name=SERVED_MODEL,
        engine_config=engine_config,
        extra_args=TINY_EXTRA_ARGS,
        env=env,
    )


@contextlib.contextmanager
def running_vllm_server(log_dir: Path) -> Iterator[VllmServer]:
    """The tiny-model server on a free loopback port, stopped with all its processes on exit."""
    with tiny_launcher(log_dir).launched(tiny_request()) as outcome:
        if isinstance(outcome, LaunchFailure):
            raise ServerStartError(outcome)
        yield outcome
