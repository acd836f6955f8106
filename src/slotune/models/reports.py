"""Saved results: one versioned report model per command that saves one (simulate, bench, sweep, ...).

Every report embeds its inputs (workload digest, engine configuration, SLO, hardware, versions, seed) through
its RunResult's provenance, so `report`, `audit` and `deploy` work offline from the file alone. Reading and
writing the files is slotune.results's job; this module only defines what they hold.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.deploy import DeploySource
from slotune.models.launch import LaunchInfo
from slotune.models.load import LoadSpec
from slotune.models.records import FinishReason, RunResult
from slotune.models.run_summary import RunSummary
from slotune.models.workload_stats import WorkloadStats


class SavedResult(Frozen):
    """Base of every saved report: what it is, which schema of it, and who wrote it when."""

    SCHEMA_VERSION: ClassVar[int]
    kind: str
    schema_version: int
    slotune_version: str = ""
    created_utc: str = ""
    # Per-request records live beside the report as JSON lines (a run can hold millions); the path is
    # relative to the report's own folder. None: the report holds no records.
    records_file: str | None = None


class CdfPoints(Frozen):
    """An empirical CDF traced by quantiles: `value_s[i]` is the `p[i]` quantile of the sample (seconds)."""

    count: int
    p: tuple[float, ...]
    value_s: tuple[float, ...]


class NotableRequest(Frozen):
    """One request worth a look (among the slowest, or failed), as a report lists it."""

    request_id: str
    finish_reason: FinishReason
    prompt_tokens: int
    output_tokens: int
    ttft_s: float | None = None
    e2e_s: float | None = None
    error: str | None = None


class RunPlotData(Frozen):
    """What a run's plots need from its per-request records, computed when the run is saved so that a report
    of a run of any size reads a few kilobytes instead of every record (slotune.metrics.plot_data)."""

    # "ttft", "itl", "tpot", "e2e": over the requests that finished well, as in RunSummary.
    cdf: dict[str, CdfPoints]
    # Completions over the run: (bin start s, completed requests/s, their output tokens/s).
    completions: tuple[tuple[float, float, float], ...] = ()
    slowest: tuple[NotableRequest, ...] = ()
    failed: tuple[NotableRequest, ...] = ()
    num_failed: int = 0


def run_deploy_source(result: RunResult, origin: str, *, measured: bool) -> DeploySource | None:
    """What `slotune deploy` ships from a run: its engine configuration and what it ran with (None: the run
    records no configuration). `measured`: a real server ran it, so its engine version is a vLLM version (a
    simulation's names the simulator)."""
    if result.engine_config is None:
        return None
    provenance = result.provenance
    launch = result.launch
    return DeploySource(
        engine_config=result.engine_config,
        model=provenance.model,
        gpu=provenance.gpu,
        slo=result.slo,
        vllm_version=launch.vllm_version
        if launch is not None
        else (provenance.engine_version if measured else ""),
        startup=launch.facts if launch is not None else None,
        origin=origin,
    )


class SimulationReport(SavedResult):
    SCHEMA_VERSION: ClassVar[int] = 3
    kind: Literal["simulate"] = "simulate"
    schema_version: int = SCHEMA_VERSION
    result: RunResult
    # Filled by slotune.results.save_result from the records (None: saved without records).
    plot_data: RunPlotData | None = None
    trace_path: str | None = None
    wall_s: float | None = None

    def deploy_source(self) -> DeploySource | None:
        """The configuration `slotune deploy` renders from this report (every report that carries one says so
        through this method)."""
        return run_deploy_source(self.result, "simulate result", measured=False)


class LoadReport(Frozen):
    """How a benchmark's load was generated (the LoadSpec, including how much was measured) and sent."""

    spec: LoadSpec
    description: str
    seed: int = 0
    api: str = "completions"
    exact_output: bool = False
    prompt_overhead_tokens: int = 0


class WindowReport(Frozen):
    start_s: float
    end_s: float
    duration_s: float


class LengthMismatch(Frozen):
    request_id: str
    expected: int
    got: int


class TokenizerCheck(Frozen):
    checked: int
    mismatched: int
    mean_abs_difference: float
    note: str


class TokenChecks(Frozen):
    """Did the server produce and read the lengths the workload asked for?"""

    output_source: str
    output_length_checked: int = 0
    output_length_mismatched: int = 0
    output_length_examples: tuple[LengthMismatch, ...] = ()
    prompt_length_mismatched: int = 0
    prompt_length_examples: tuple[LengthMismatch, ...] = ()
    tokenizer_check: TokenizerCheck | None = None


class ErrorSummary(Frozen):
    count: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)
    examples: tuple[str, ...] = ()


class GpuSample(Frozen):
    gpu: int
    name: str
    util_mean: float
    memory_used_bytes_max: int
    power_w_mean: float


class GpuTelemetryReport(Frozen):
    num_gpus: int
    per_gpu: tuple[GpuSample, ...] = ()


class BenchReport(SavedResult):
    SCHEMA_VERSION: ClassVar[int] = 3
    kind: Literal["bench"] = "bench"
    schema_version: int = SCHEMA_VERSION
    result: RunResult
    plot_data: RunPlotData | None = None  # as in SimulationReport
    load: LoadReport
    window: WindowReport
    num_warmup: int = 0
    interrupted: bool = False
    # 95% percentile-bootstrap intervals (seeded): metric -> stat -> (low, high).
    confidence_intervals: dict[str, dict[str, tuple[float, float] | None]] = Field(default_factory=dict)
    tokens: TokenChecks
    errors: ErrorSummary = ErrorSummary()
    gpu: GpuTelemetryReport | None = None

    @property
    def valid(self) -> bool:
        return self.result.validity is None or self.result.validity.valid

    def deploy_source(self) -> DeploySource | None:
        return run_deploy_source(self.result, "bench result", measured=True)

    @property
    def reasons(self) -> tuple[str, ...]:
        return () if self.result.validity is None else self.result.validity.reasons


class SweepPoint(Frozen):
    """One load level of a sweep: its summary and the signals that decide saturation."""

    level: float
    kind: Literal["rate", "concurrency"]
    valid: bool
    invalid_reasons: tuple[str, ...] = ()
    summary: RunSummary | None = None
    # Completions per second corrected for the drain at the end: n / (send span + median E2E).
    completion_rate_rps: float | None = None
    # Mean E2E of the last third of requests over the first third's (> 1.5: a queue builds).
    e2e_late_over_early: float | None = None
    saturated: bool | None = None
    # Where the level's own bench report was saved, relative to the sweep report's folder.
    result_path: str | None = None


class SweepReport(SavedResult):
    SCHEMA_VERSION: ClassVar[int] = 3
    kind: Literal["sweep"] = "sweep"
    schema_version: int = SCHEMA_VERSION
    sweep_kind: Literal["rate", "concurrency"]
    levels: tuple[float, ...] | Literal["auto"]
    points: tuple[SweepPoint, ...]
    max_sustained_rate_rps: float | None = None
    valid: bool
    # The server every level ran against, when slotune launched it.
    launch: LaunchInfo | None = None


class LengthHistogram(Frozen):
    """Token lengths binned for plotting: `edges` has one more entry than `counts` (bin i is [edge i, i+1))."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


class ArrivalRate(Frozen):
    """Arrivals per second in consecutive bins of `bin_s` seconds from the first arrival."""

    bin_s: float
    requests_per_s: tuple[float, ...]


class ReusePoint(Frozen):
    """Share of prompt tokens an LRU prefix cache of `cache_tokens` would serve (requests in arrival order)."""

    cache_tokens: int
    hit_token_fraction: float


class WorkloadReport(SavedResult):
    """`slotune workload analyze FILE --out`: the analysis plus the series its plots need."""

    SCHEMA_VERSION: ClassVar[int] = 1
    kind: Literal["workload"] = "workload"
    schema_version: int = SCHEMA_VERSION
    stats: WorkloadStats
    source_path: str = ""
    prompt_histogram: LengthHistogram
    output_histogram: LengthHistogram
    arrival_rate: ArrivalRate | None = None
    # From a small cache to the unbounded cache's size; empty when the file says nothing about prefixes.
    prefix_reuse_curve: tuple[ReusePoint, ...] = ()
