"""Start and stop a real vLLM (CPU build) server on the tiny model, on a free loopback port.

Used by the integration tests' session fixture (conftest.py) and by benchmarks/compare_vllm_client.py.
`scripts/setup_integration.sh` installs `.venv-vllm` and writes `.models/tiny-llama`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

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
LOG_TAIL_CHARS = 12_000


class ServerStartError(RuntimeError):
    """The server exited or never became healthy; the message ends with its log."""


@dataclass(frozen=True, slots=True)
class VllmServer:
    base_url: str
    model: str
    port: int
    log_path: Path
    pid: int

    def log_tail(self, max_chars: int = LOG_TAIL_CHARS) -> str:
        return read_tail(self.log_path, max_chars)


def read_tail(path: Path, max_chars: int = LOG_TAIL_CHARS) -> str:
    try:
        return path.read_text(errors="replace")[-max_chars:]
    except OSError as exc:
        return f"(no server log: {exc})"


def missing_installation() -> list[str]:
    """What scripts/setup_integration.sh has not installed yet (empty when ready)."""
    needed = (VLLM_PYTHON, TINY_MODEL_DIR / "config.json")
    return [str(p.relative_to(REPO_ROOT)) for p in needed if not p.exists()]


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(port: int, *, enforce_eager: bool = True) -> list[str]:
    command = [
        str(VLLM_PYTHON),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(TINY_MODEL_DIR),
        "--served-model-name",
        SERVED_MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(MAX_MODEL_LEN),
        "--block-size",
        str(BLOCK_SIZE),
        # Per-request cached prompt tokens in `usage.prompt_tokens_details.cached_tokens`.
        "--enable-prompt-tokens-details",
        "--disable-uvicorn-access-log",
    ]
    if enforce_eager:
        # Start-up ~26 s instead of ~48 s with torch.compile; serving behaviour is the same.
        command.append("--enforce-eager")
    return command


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "VLLM_CPU_KVCACHE_SPACE": str(KV_CACHE_SPACE_GIB),
            # Nothing may come from a hub: the model and tokenizer are local files.
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerStartError(
                    f"vLLM server exited with code {proc.returncode} during start-up:\n{read_tail(log_path)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base_url}/health").status_code == 200:
                    return
            time.sleep(0.5)
    raise ServerStartError(f"vLLM server not healthy after {STARTUP_TIMEOUT_S:.0f} s:\n{read_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's own process group (API server, engine core, worker), then SIGKILL it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    # The engine's children may outlive the API server: clear the group either way.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@contextlib.contextmanager
def running_vllm_server(log_path: Path, *, enforce_eager: bool = True) -> Iterator[VllmServer]:
    """Start a vLLM server on a free loopback port and stop it (with its children) on exit."""
    port = free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            server_command(port, enforce_eager=enforce_eager),
            cwd=REPO_ROOT,
            env=server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown reaches the engine processes too
        )
    try:
        _wait_healthy(proc, base_url, log_path)
        yield VllmServer(base_url=base_url, model=SERVED_MODEL, port=port, log_path=log_path, pid=proc.pid)
    finally:
        _stop(proc)
