"""A real vLLM (CPU build) server for the integration tests: one per test session, on the tiny model.

`scripts/setup_integration.sh` installs `.venv-vllm` and writes `.models/tiny-llama`. Without them the tests
are skipped on a developer's machine and fail in CI (CI=true), so CI never passes by skipping them.
The server's log is attached to the report of every failing integration test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VLLM_PYTHON = REPO_ROOT / ".venv-vllm" / "bin" / "python"
TINY_MODEL_DIR = REPO_ROOT / ".models" / "tiny-llama"
TOKENIZER_JSON = REPO_ROOT / "tests" / "data" / "tokenizers" / "qwen3" / "tokenizer.json"
SLOTUNE_PYTHON = Path(sys.executable)

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


@dataclass(frozen=True, slots=True)
class VllmServer:
    base_url: str
    model: str
    port: int
    log_path: Path
    pid: int

    def log_tail(self, max_chars: int = LOG_TAIL_CHARS) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return text[-max_chars:]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def _require_installed() -> None:
    missing = [
        str(p.relative_to(REPO_ROOT)) for p in (VLLM_PYTHON, TINY_MODEL_DIR / "config.json") if not p.exists()
    ]
    if not missing:
        return
    message = (
        f"real vLLM is not installed ({', '.join(missing)} missing): run `bash scripts/setup_integration.sh`"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. CI must run the integration tests, not skip them.", pytrace=False)
    pytest.skip(message)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(port: int) -> list[str]:
    return [
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
        # Eager start-up is ~26 s instead of ~48 s with torch.compile; serving behaviour is the same.
        "--enforce-eager",
        # Per-request cached prompt tokens in `usage.prompt_tokens_details.cached_tokens`.
        "--enable-prompt-tokens-details",
        "--disable-uvicorn-access-log",
    ]


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
                tail = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
                pytest.fail(
                    f"vLLM server exited with code {proc.returncode} during start-up:\n{tail}", pytrace=False
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base_url}/health").status_code == 200:
                    return
            time.sleep(0.5)
    tail = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
    pytest.fail(f"vLLM server not healthy after {STARTUP_TIMEOUT_S:.0f} s:\n{tail}", pytrace=False)


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
def running_vllm_server(log_path: Path) -> Iterator[VllmServer]:
    """Start a vLLM server on a free loopback port and stop it (with its children) on exit."""
    port = free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            server_command(port),
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


_SERVER_KEY = pytest.StashKey[VllmServer]()


@pytest.fixture(scope="session")
def vllm_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    _require_installed()
    log_path = tmp_path_factory.mktemp("vllm") / "server.log"
    with running_vllm_server(log_path) as server:
        request.config.stash[_SERVER_KEY] = server
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed and "vllm_server" in getattr(item, "fixturenames", ()):
        server = item.config.stash.get(_SERVER_KEY, None)
        if server is not None:
            report.sections.append(("vLLM server log (tail)", server.log_tail()))
