"""What `slotune watch` reports at each scrape of a live server: SLO attainment per window, burn rates, the
engine's state, and what to change when a rule fires."""

from __future__ import annotations

from typing import Literal

from slotune.models.base import Frozen

Verdict = Literal["met", "violated", "no_data"]


class TermStatus(Frozen):
    """One SLO latency term over one window, from the server's histogram deltas."""

    term: str  # "ttft:p99<200ms"
    events: float  # requests (ITL: output steps) the histogram counted in the window
    # Share of events within the threshold (a mean term: None, see mean_s).
    attainment: float | None = None
    # When the threshold is not a bucket edge: the shares at the edges below and above it (the value is
    # interpolated between them, as Prometheus does); equal to attainment at an edge.
    attainment_low: float | None = None
    attainment_high: float | None = None
    # TTFT and E2E: attainment is the client's view (vLLM's histograms shifted by the window's
    # outside_engine_s); this is the share as vLLM's histogram counts it. None where the two are the same.
    server_attainment: float | None = None
    objective: float | None = None  # p99 -> 0.99
    burn_rate: float | None = None  # (1 - attainment) / (1 - objective)
    mean_s: float | None = None
    met: bool | None = None  # None: no events in the window


class EngineStatus(Frozen):
    """The server's gauges at the window's end and its counters over the window."""

    running: float | None = None
    waiting: float | None = None
    kv_usage: float | None = None
    preemptions: float | None = None
    admission_rejections: float | None = None
    requests_finished: float | None = None


class WindowStatus(Frozen):
    window: str  # "1m", "5m", "run" (since watch started) or "lifetime" (since the server started)
    span_s: float | None = None  # None for "lifetime": the server's counters since it started
    # Mean time per request a client sees and vLLM's latency histograms do not (HTTP parsing before, SSE after):
    # the API server's HTTP duration minus vLLM's E2E. None: not measurable (no HTTP histogram, no request), or
    # the client view is off; TTFT and E2E are then judged as vLLM counts them.
    outside_engine_s: float | None = None
    terms: tuple[TermStatus, ...] = ()
    engine: EngineStatus = EngineStatus()


class LiveFinding(Frozen):
    """A rule that fired on the live server, with the flag to change."""

    rule: str
    window: str
    message: str
    flag: str
    action: str


class WatchTick(Frozen):
    """One line of `slotune watch --json`."""

    time_s: float  # since watch started
    url: str
    windows: tuple[WindowStatus, ...]
    findings: tuple[LiveFinding, ...] = ()
    verdict: Verdict
    scrape_error: str | None = None
