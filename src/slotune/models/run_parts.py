"""The typed parts of a RunResult beyond its summary: what the engine did (one model for every backend), and
what only one backend can say (the simulator's own step statistics; a real server's /metrics window; the
benchmark client's telemetry and the validity verdict)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen


class EngineCounters(Frozen):
    """What the engine did over the run, the same fields whether the simulator counted them or a real server's
    /metrics reported them (None where the source does not say). Compare simulated and measured runs here."""

    source: Literal["simulator", "server-metrics"]
    num_gpu_blocks: int | None = None
    block_size: int | None = None
    # vLLM's "GPU KV cache size": num_gpu_blocks x block_size tokens.
    kv_capacity_tokens: int | None = None
    kv_usage_mean: float | None = None  # 0-1; the simulator weights by busy time, a server by scrape
    kv_usage_max: float | None = None
    prefix_query_tokens: int | None = None
    prefix_hit_tokens: int | None = None
    prefix_hit_rate: float | None = None  # hit tokens / queried tokens
    num_preemptions: int | None = None
    prompt_tokens: int | None = None  # tokens the engine prefilled or took from the cache
    generation_tokens: int | None = None
    num_running_mean: float | None = None
    num_running_max: float | None = None
    num_waiting_mean: float | None = None
    num_waiting_max: float | None = None


class SimulatorStats(Frozen):
    """How the simulator got there: numbers a real server does not publish."""

    num_steps: int
    num_fast_steps: int  # decode steps evaluated in fast-forwarded runs (how, not what: identical results)
    busy_s: float
    num_evicted_blocks: int
    in_flight_mean: float  # time-average of running + waiting requests over the run


class LagStats(Frozen):
    count: int
    mean_s: float
    p50_s: float
    p99_s: float
    max_s: float


class HistogramWindow(Frozen):
    """One server histogram over the measured window: count, mean, and quantiles read as Prometheus's
    histogram_quantile does (linear within a bucket, so no finer than the bucket edges)."""

    count: float
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


class ServerWindow(Frozen):
    """Counter deltas and histogram windows between the scrapes that bracket the measured window."""

    window_s: float
    prefix_cache_hits: float | None = None
    prefix_cache_queries: float | None = None
    num_preemptions: float | None = None
    prompt_tokens: float | None = None
    generation_tokens: float | None = None
    requests_finished: float | None = None
    histograms: dict[str, HistogramWindow] = Field(default_factory=dict)
    # Counters that went down (the server restarted mid-run): their deltas count from zero.
    counter_resets: tuple[str, ...] = ()


class GaugeStats(Frozen):
    mean: float
    max: float


class ServerMetricsReport(Frozen):
    """What a real server's Prometheus /metrics said during a run."""

    scrapes: int
    interval_s: float
    scrape_latency_s: LagStats | None = None
    # Settings the server publishes as *_info gauge labels, e.g. {"cache_config.num_gpu_blocks": "32768"}.
    engine_info: dict[str, str] = Field(default_factory=dict)
    gauges: dict[str, GaugeStats | None] = Field(default_factory=dict)
    window: ServerWindow | None = None
    kv_usage_timeline: tuple[tuple[float, float | None], ...] = ()
    running_waiting_timeline: tuple[tuple[float, float | None, float | None], ...] = ()


class ClientReport(Frozen):
    """The load generator's own view: did it send on schedule, and did it have the CPU to time correctly?"""

    offered_rate_rps: float | None = None
    schedule_rate_rps: float | None = None
    achieved_send_rate_rps: float | None = None
    schedule_lag_s: LagStats | None = None
    loop_lag_s: LagStats | None = None
    cpu_utilization: tuple[float, ...] = ()
    host_cpu_utilization: float | None = None
    workers: int = 1
    event_loop: str = ""
    connections_opened: int = 0
    requests_resent_on_stale_connection: int = 0


class Validity(Frozen):
    """Whether a measured run's numbers can be trusted; `reasons` say why not."""

    valid: bool
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    checks: dict[str, float] = Field(default_factory=dict)
