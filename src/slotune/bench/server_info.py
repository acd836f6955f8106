"""What the server says about itself before a run: models, version, whether it is vLLM, `/metrics`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slotune.bench.fetch import fetch
from slotune.bench.server_metrics import PROMPT_TOKENS, parse_prometheus
from slotune.bench.transport import ConnectionPool
from slotune.errors import BackendError, InputError


@dataclass(slots=True)
class ServerInfo:
    model_ids: list[str]
    models: list[dict[str, Any]] = field(default_factory=list)
    version: str | None = None
    is_vllm: bool = False
    metrics_available: bool = False
    # The server's prompt-token counter when probed (vLLM's /metrics): it only grows while the server lives.
    prompt_tokens_total: float | None = None

    def model_entry(self, model: str) -> dict[str, Any]:
        for entry in self.models:
            if entry.get("id") == model:
                return entry
        return {}

    def max_model_len(self, model: str) -> int | None:
        """The context length the server gives the model (vLLM lists it in /v1/models)."""
        value = self.model_entry(model).get("max_model_len")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    def local_model_dir(self, model: str) -> Path | None:
        """The folder the server loaded the model from, when it is on this machine (vLLM reports `root`)."""
        root = self.model_entry(model).get("root")
        if isinstance(root, str) and root:
            path = Path(root)
            if path.is_dir():
                return path
        return None


async def probe_server(
    pool: ConnectionPool, headers: dict[str, str], *, timeout_s: float = 10.0
) -> ServerInfo:
    url = pool.endpoint.url("/v1/models")
    resp = await fetch(pool, "GET", "/v1/models", headers=headers, timeout_s=timeout_s)
    if resp.error is not None and resp.status == 0:
        raise BackendError(
            f"cannot reach the server at {url} ({resp.error}). Fix: start the server or correct --url."
        )
    if resp.status in (401, 403):
        raise InputError(
            "api-key",
            "<hidden>",
            "set OPENAI_API_KEY or SLOTUNE_API_KEY, or pass --api-key, with a key this server accepts",
            problem=f"the server answered HTTP {resp.status}",
        )
    if resp.status != 200:
        raise BackendError(
            f"GET {url} answered HTTP {resp.status}: {resp.body[:200]!r}. Fix: point --url at an OpenAI-compatible server."
        )
    try:
        data = resp.json()
        models = [m for m in data.get("data", []) if isinstance(m, dict)]
    except Exception as exc:
        raise BackendError(f"GET {url} did not return the OpenAI model list: {exc}") from exc
    info = ServerInfo(model_ids=[str(m.get("id")) for m in models], models=models)
    info.is_vllm = any(m.get("owned_by") == "vllm" for m in models)
    version = await fetch(pool, "GET", "/version", headers=headers, timeout_s=timeout_s)
    if version.status == 200:
        try:
            info.version = str(version.json().get("version"))
        except Exception:
            info.version = None
    metrics = await fetch(pool, "GET", "/metrics", headers=headers, timeout_s=timeout_s)
    info.metrics_available = metrics.status == 200 and (b"# TYPE" in metrics.body or b"vllm:" in metrics.body)
    if info.metrics_available:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            info.prompt_tokens_total = parse_prometheus(metrics.body.decode("utf-8")).total(PROMPT_TOKENS)
    return info


def check_model(info: ServerInfo, model: str) -> None:
    if info.model_ids and model not in info.model_ids:
        raise InputError("model", model, f"use a model this server serves: {', '.join(info.model_ids)}")
