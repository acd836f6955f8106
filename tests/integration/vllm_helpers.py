"""Small independent readers of what a vLLM server says, used as oracles for slotune's own client.

Kept deliberately separate from slotune.bench (its Prometheus parser and SSE client are what the tests check).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(base_url: str) -> str:
    return httpx.get(f"{base_url}/metrics", timeout=10).text


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of exactly `name`, with its labels."""
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and m.group("name") == name:
            labels = dict(_LABEL.findall(m.group("labels") or ""))
            out.append((labels, float(m.group("value"))))
    return out


def total(text: str, name: str) -> float:
    """Sum of a metric over its label sets (0 if absent)."""
    return sum(value for _, value in samples(text, name))


def metric_names(text: str) -> set[str]:
    return {m.group("name") for line in text.splitlines() if (m := _SAMPLE.match(line))}


COUNTERS = (
    "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_hits_total",
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
    "vllm:num_preemptions_total",
    "vllm:request_success_total",
)


def counter_totals(base_url: str) -> dict[str, float]:
    text = scrape(base_url)
    return {name: total(text, name) for name in COUNTERS}


def counter_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


@dataclass
class StreamedResponse:
    """One streamed response as raw SSE events with their arrival times (seconds from the send)."""

    status: int
    events: list[tuple[float, Any]] = field(default_factory=list)
    done: bool = False

    @property
    def content_events(self) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in self.events if e.get("choices")]

    @property
    def usage(self) -> dict[str, Any] | None:
        for _, e in self.events:
            if e.get("usage"):
                return dict(e["usage"])
        return None


def stream_post(
    base_url: str, path: str, body: dict[str, Any], *, timeout_s: float = 120.0
) -> StreamedResponse:
    t0 = time.perf_counter()
    with httpx.stream("POST", f"{base_url}{path}", json=body, timeout=timeout_s) as response:
        result = StreamedResponse(status=response.status_code)
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            payload = line[len("data: ") :]
            if payload == "[DONE]":
                result.done = True
                continue
            result.events.append((time.perf_counter() - t0, json.loads(payload)))
    return result
