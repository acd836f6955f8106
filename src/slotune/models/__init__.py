"""Data passed between slotune's packages: pydantic v2, frozen, extra="forbid"."""

from slotune.models.audit import AuditReport, Finding
from slotune.models.capacity_plan import (
    CapacityPlan,
    Derivation,
    KvPlan,
    LatencyPlan,
    MemoryBudget,
    PlanEngine,
    PlanRanking,
    RankBy,
    ThroughputPlan,
    Verdict,
    WeightsPlan,
)
from slotune.models.cost import CostReport, PriceBook, PriceSource, PriceUsed, RequestBasis
from slotune.models.distribution import Distribution
from slotune.models.engine_config import EngineConfig, ResolvedEngineConfig, SpeculativeConfig
from slotune.models.gpu_spec import GpuSpec, PricePoint
from slotune.models.hardware_profile import HardwareProfile, ProfileCoefficients, ProfileProvenance
from slotune.models.load import LoadSpec
from slotune.models.model_spec import MLASpec, ModelSpec, MoESpec
from slotune.models.records import FinishReason, Provenance, RequestRecord, RunResult, StepSample
from slotune.models.run_parts import (
    ClientReport,
    EngineCounters,
    GaugeStats,
    HistogramWindow,
    LagStats,
    ServerMetricsReport,
    ServerWindow,
    SimulatorStats,
    Validity,
)
from slotune.models.run_summary import RunSummary, TargetResult
from slotune.models.slo import SLO, SLOTarget
from slotune.models.workload import RequestSpec, SamplingParams, Workload

__all__ = [
    "SLO",
    "AuditReport",
    "CapacityPlan",
    "ClientReport",
    "CostReport",
    "Derivation",
    "Distribution",
    "EngineConfig",
    "EngineCounters",
    "Finding",
    "FinishReason",
    "GaugeStats",
    "GpuSpec",
    "HardwareProfile",
    "HistogramWindow",
    "KvPlan",
    "LagStats",
    "LatencyPlan",
    "LoadSpec",
    "MLASpec",
    "MemoryBudget",
    "MoESpec",
    "ModelSpec",
    "PlanEngine",
    "PlanRanking",
    "PriceBook",
    "PricePoint",
    "PriceSource",
    "PriceUsed",
    "ProfileCoefficients",
    "ProfileProvenance",
    "Provenance",
    "RankBy",
    "RequestBasis",
    "RequestRecord",
    "RequestSpec",
    "ResolvedEngineConfig",
    "RunResult",
    "RunSummary",
    "SLOTarget",
    "SamplingParams",
    "ServerMetricsReport",
    "ServerWindow",
    "SimulatorStats",
    "SpeculativeConfig",
    "StepSample",
    "TargetResult",
    "ThroughputPlan",
    "Validity",
    "Verdict",
    "WeightsPlan",
    "Workload",
]
