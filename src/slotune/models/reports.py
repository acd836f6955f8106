"""Saved results: one versioned report model per command that saves one (simulate, bench, sweep, ...).

Every report embeds its inputs (workload digest, engine configuration, SLO, hardware, versions, seed) through
its RunResult's provenance, so `report`, `audit` and `deploy` work offline from the file alone. Reading and
writing the files is slotune.results's job; this module only defines what they hold.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.launch import LaunchInfo
from slotune.models.records import RunResult
from slotune.models.run_summary import RunSummary


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


class SimulationReport(SavedResult):
    SCHEMA_VERSION: ClassVar[int] = 3
    kind: Literal["simulate"] = "simulate"
    schema_version: int = SCHEMA_VERSION
    result: RunResult
    trace_path: str | None = None
    wall_s: float | None = None


class LoadReport(Frozen):
    """How a benchmark's load was generated and how much of it was measured."""

    kind: str
    description: str
    rate_rps: float | None = None
    arrival: str | None = None
    cv: float | None = None
    concurrency: int | None = None
    time_scale: float | None = None
    num_requests: int | None = None
    duration_s: float | None = None
    warmup_s: float = 0.0
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
