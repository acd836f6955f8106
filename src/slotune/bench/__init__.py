"""Phase 2: measure a real OpenAI-compatible server with exact, audited metrics (docs/metrics.md).

Public API: `HttpBackend` (the Backend protocol over HTTP), `run_bench`, `run_sweep`, `BenchSettings`,
`ValidityThresholds`. The load of a run is `slotune.models.LoadSpec`.
"""

from slotune.bench.http_backend import HttpBackend
from slotune.bench.runner import BenchOutcome, BenchSettings, run_bench
from slotune.bench.validity import ValidityThresholds

__all__ = ["BenchOutcome", "BenchSettings", "HttpBackend", "ValidityThresholds", "run_bench"]
