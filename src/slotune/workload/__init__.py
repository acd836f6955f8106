"""Phase 0: read traces and request logs, analyze them, synthesize workloads.

Public API: `read_workload`, `write_workload`, `analyze`, `synthesize`, `PRESETS`, `WorkloadStats`,
`workload_digest`, `with_digest`.
"""

from slotune.models.workload_stats import PrefixReuse, RequestLogStats, WorkloadStats
from slotune.workload.analyze import analyze
from slotune.workload.digest import with_digest, workload_digest
from slotune.workload.formats import FORMAT_NAMES, detect_format
from slotune.workload.io import read_workload, write_workload
from slotune.workload.presets import PRESETS, Preset
from slotune.workload.synth import synthesize

__all__ = [
    "FORMAT_NAMES",
    "PRESETS",
    "PrefixReuse",
    "Preset",
    "RequestLogStats",
    "WorkloadStats",
    "analyze",
    "detect_format",
    "read_workload",
    "synthesize",
    "with_digest",
    "workload_digest",
    "write_workload",
]
