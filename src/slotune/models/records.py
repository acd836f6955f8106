"""What one run produced, filled the same way by the simulator and by a real server (HTTP backend).

Times are seconds on the run's own clock (0 = start of the run). A request's output arrives in chunks:
one chunk per engine step on a plain engine, several tokens per chunk with speculative decoding or
when a server coalesces stream events.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.engine_config import EngineConfig
from slotune.models.launch import LaunchInfo
from slotune.models.run_parts import (
    ClientReport,
    EngineCounters,
    ServerMetricsReport,
    SimulatorStats,
    Validity,
)
from slotune.models.run_summary import RunSummary
from slotune.models.slo import SLO

FinishReason = Literal["length", "stop", "abort", "error", "timeout", "rejected"]


class RequestRecord(Frozen):
    request_id: str
    arrival_s: float
    # First time the engine scheduled any of the request's tokens (None for a real server, which does not say).
    scheduled_s: float | None = None
    first_token_s: float | None = None
    finish_s: float | None = None
    # Arrival time of every output chunk (first chunk included) and how many tokens each carried.
    chunk_times_s: tuple[float, ...] = ()
    chunk_tokens: tuple[int, ...] = ()
    finish_reason: FinishReason = "length"
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    output_tokens: int = 0
    num_preemptions: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.finish_reason in ("length", "stop") and self.error is None

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_s is None else self.first_token_s - self.arrival_s

    @property
    def e2e_s(self) -> float | None:
        return None if self.finish_s is None else self.finish_s - self.arrival_s

    @property
    def tpot_s(self) -> float | None:
        """Per-request time per output token after the first: (E2E - TTFT) / (n - 1)."""
        if self.first_token_s is None or self.finish_s is None or self.output_tokens < 2:
            return None
        return (self.finish_s - self.first_token_s) / (self.output_tokens - 1)

    @property
    def itls_s(self) -> tuple[float, ...]:
        """Inter-token latency as gaps between consecutive streamed chunks (vLLM's definition)."""
        t = self.chunk_times_s
        return tuple(t[i + 1] - t[i] for i in range(len(t) - 1))


class StepSample(Frozen):
    """One engine step (simulator) or one scrape interval (real server)."""

    time_s: float
    duration_s: float = 0.0
    num_running: int = 0
    num_waiting: int = 0
    num_prefill_tokens: int = 0
    num_decode_tokens: int = 0
    kv_usage: float = Field(default=0.0, ge=0.0)
    num_preemptions: int = 0
    prefix_hit_tokens: int = 0
    prefix_query_tokens: int = 0
    # How many engine steps this sample aggregates (a long simulated timeline is downsampled into buckets of
    # consecutive steps: counters summed, gauges averaged over the bucket's time).
    num_steps: int = Field(default=1, ge=1)


class Provenance(Frozen):
    backend: str
    slotune_version: str
    workload_digest: str = ""
    workload_name: str = ""
    model: str = ""
    gpu: str = ""
    seed: int | None = None
    engine_version: str = ""
    server_url: str = ""
    created_utc: str = ""
    extra: dict[str, str] = Field(default_factory=dict)


class RunResult(Frozen):
    """What one run produced, the same model for every backend: per-request records, the summary computed from
    them, what the engine did, and the parts only one backend can say."""

    provenance: Provenance
    engine_config: EngineConfig | None = None
    slo: SLO | None = None
    records: tuple[RequestRecord, ...] = ()
    timeline: tuple[StepSample, ...] = ()
    duration_s: float = 0.0
    # For streamed runs (e.g. a million simulated requests) the records may be dropped and only the
    # summary kept; `num_requests` always counts every request.
    num_requests: int = 0
    summary: RunSummary
    engine: EngineCounters | None = None
    simulator: SimulatorStats | None = None
    server: ServerMetricsReport | None = None
    client: ClientReport | None = None
    validity: Validity | None = None
    # A server slotune launched itself: how it was started and what vLLM reported at start-up.
    launch: LaunchInfo | None = None
