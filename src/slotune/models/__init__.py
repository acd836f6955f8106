"""Data passed between slotune's packages: pydantic v2, frozen, extra="forbid"."""

from slotune.models.capacity_plan import (
    CapacityPlan,
    CostPlan,
    Derivation,
    KvPlan,
    LatencyPlan,
    MemoryBudget,
    PlanEngine,
    ThroughputPlan,
    Verdict,
    WeightsPlan,
)
from slotune.models.engine_config import EngineConfig, SpeculativeConfig
from slotune.models.gpu_spec import GpuSpec, PricePoint
from slotune.models.hardware_profile import HardwareProfile, ProfileCoefficients, ProfileProvenance
from slotune.models.model_spec import MLASpec, ModelSpec, MoESpec
from slotune.models.records import FinishReason, Provenance, RequestRecord, RunResult, StepSample
from slotune.models.slo import SLO, SLOTarget
from slotune.models.workload import RequestSpec, SamplingParams, Workload

__all__ = [
    "SLO",
    "CapacityPlan",
    "CostPlan",
    "Derivation",
    "EngineConfig",
    "FinishReason",
    "GpuSpec",
    "HardwareProfile",
    "KvPlan",
    "LatencyPlan",
    "MLASpec",
    "MemoryBudget",
    "MoESpec",
    "ModelSpec",
    "PlanEngine",
    "PricePoint",
    "ProfileCoefficients",
    "ProfileProvenance",
    "Provenance",
    "RequestRecord",
    "RequestSpec",
    "RunResult",
    "SLOTarget",
    "SamplingParams",
    "SpeculativeConfig",
    "StepSample",
    "ThroughputPlan",
    "Verdict",
    "WeightsPlan",
    "Workload",
]
