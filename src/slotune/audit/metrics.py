"""One scrape of a vLLM server's Prometheus `/metrics` (a URL, or a file holding the text), as audit evidence.

Counters are the server's whole life since it started (the audit sees one scrape, not a window); gauges are
the moment of the scrape. `vllm:cache_config_info` publishes the cache settings the server runs with (prefix
caching on or off, block size, number of KV blocks); a live server's `/v1/models` adds its max_model_len.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from slotune.bench.server_metrics import (
    GENERATION_TOKENS,
    KV_USAGE,
    PREEMPTIONS,
    PREFIX_HITS,
    PREFIX_QUERIES,
    PROMPT_TOKENS,
    REQUEST_SUCCESS,
    RUNNING,
    WAITING,
    Snapshot,
    engine_info,
    parse_prometheus,
)
from slotune.errors import InputError

FETCH_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class MetricsScrape:
    source: str
    snapshot: Snapshot
    info: dict[str, str] = field(default_factory=dict)
    # From the server's /v1/models (vLLM lists max_model_len there); None for a file or another server.
    served_max_model_len: int | None = None

    @property
    def series(self) -> frozenset[str]:
        return frozenset(self.snapshot.samples)

    def gauge(self, *names: str) -> float | None:
        value = self.snapshot.total(*names)
        return value if value is not None and math.isfinite(value) else None

    @property
    def kv_usage(self) -> float | None:
        return self.gauge(*KV_USAGE)

    @property
    def num_waiting(self) -> float | None:
        return self.gauge(WAITING)

    @property
    def num_running(self) -> float | None:
        return self.gauge(RUNNING)

    @property
    def num_preemptions(self) -> float | None:
        return self.gauge(PREEMPTIONS)

    @property
    def requests_finished(self) -> float | None:
        return self.gauge(REQUEST_SUCCESS)

    @property
    def prompt_tokens(self) -> float | None:
        return self.gauge(PROMPT_TOKENS)

    @property
    def generation_tokens(self) -> float | None:
        return self.gauge(GENERATION_TOKENS)

    @property
    def prefix_queries(self) -> float | None:
        return self.gauge(*PREFIX_QUERIES)

    @property
    def prefix_hit_rate(self) -> float | None:
        """Hit tokens / queried tokens since the server started (vLLM counts both in tokens)."""
        hits, queries = self.gauge(*PREFIX_HITS), self.prefix_queries
        return hits / queries if hits is not None and queries else None

    def cache_setting(self, key: str) -> str | None:
        return self.info.get(f"cache_config.{key}")

    @property
    def prefix_caching_enabled(self) -> bool | None:
        value = self.cache_setting("enable_prefix_caching")
        return None if value is None else value.strip().lower() == "true"

    @property
    def kv_capacity_tokens(self) -> int | None:
        blocks, size = self.cache_setting("num_gpu_blocks"), self.cache_setting("block_size")
        try:
            return int(blocks) * int(size) if blocks and size else None
        except ValueError:
            return None


def _base_url(url: str) -> str:
    return url[: -len("/metrics")] if url.rstrip("/").endswith("/metrics") else url.rstrip("/")


def _served_max_model_len(client: httpx.Client, base: str) -> int | None:
    """vLLM's /v1/models lists each model's max_model_len; any other answer is no answer."""
    try:
        response = client.get(base + "/v1/models")
        models = response.json().get("data", []) if response.status_code == 200 else []
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    lengths = [m.get("max_model_len") for m in models if isinstance(m, dict)]
    return next((int(v) for v in lengths if isinstance(v, int) and v > 0), None)


def scrape_metrics(where: str, *, timeout_s: float = FETCH_TIMEOUT_S) -> MetricsScrape:
    """`where`: an http(s) URL (its /metrics, or the server's base URL) or a file of Prometheus text."""
    if where.startswith(("http://", "https://")):
        base = _base_url(where)
        url = base + "/metrics"
        try:
            with httpx.Client(timeout=timeout_s) as client:
                response = client.get(url)
                if response.status_code != 200:
                    raise InputError(
                        "--metrics",
                        where,
                        f"give the URL of a reachable /metrics ({url} answered HTTP {response.status_code})",
                    )
                text = response.text
                max_len = _served_max_model_len(client, base)
        except httpx.HTTPError as exc:
            raise InputError(
                "--metrics",
                where,
                "give the URL of a running server's /metrics, or a file holding a scrape",
                problem=str(exc),
            ) from exc
        source = url
    else:
        path = Path(where)
        if not path.is_file():
            raise InputError(
                "--metrics",
                where,
                "give a URL (http://host:port/metrics) or a file holding a /metrics scrape",
            )
        text, max_len, source = path.read_text(encoding="utf-8", errors="replace"), None, str(path)
    return metrics_from_text(text, source=source, served_max_model_len=max_len, where=where)


def metrics_from_text(
    text: str, *, source: str, served_max_model_len: int | None = None, where: str | None = None
) -> MetricsScrape:
    """A scrape from Prometheus text already fetched (a live watcher's own scrape, a saved file)."""
    snapshot = parse_prometheus(text)
    if not any(name.startswith("vllm:") for name in snapshot.samples):
        raise InputError(
            "--metrics",
            where or source,
            "give the /metrics of a vLLM server (no vllm: series found)",
            problem="not vLLM metrics",
        )
    return MetricsScrape(
        source=source,
        snapshot=snapshot,
        info=engine_info(snapshot),
        served_max_model_len=served_max_model_len,
    )
