"""Data passed between slotune's packages: pydantic v2, frozen, extra="forbid"."""

from slotune.models.capacity_plan import CapacityPlan, Derivation
from slotune.models.engine_config import EngineConfig, SpeculativeConfig
from slotune.models.gpu_spec import GpuSpec, PricePoint
from slotune.models.load import LoadSpec
from slotune.models.model_spec import MLASpec, ModelSpec, MoESpec
from slotune.models.records import FinishReason, Provenance, RequestRecord, RunResult, StepSample
from slotune.models.slo import SLO, SLOTarget
from slotune.models.workload import RequestSpec, SamplingParams, Workload

__all__ = [
    "SLO",
    "CapacityPlan",
    "Derivation",
    "EngineConfig",
    "FinishReason",
    "GpuSpec",
    "LoadSpec",
    "MLASpec",
    "MoESpec",
    "ModelSpec",
    "PricePoint",
    "Provenance",
    "RequestRecord",
    "RequestSpec",
    "RunResult",
    "SLOTarget",
    "SamplingParams",
    "SpeculativeConfig",
    "StepSample",
    "Workload",
]
