"""Data passed between slotune's packages: pydantic v2, frozen, extra="forbid".

Names are imported from their modules on first use (PEP 562), so a command that needs one model does not pay
for building every model's schema at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotune._lazy import lazy_getattr

if TYPE_CHECKING:
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

# Name -> the module of slotune.models that defines it.
_HOMES: dict[str, str] = {
    "AuditReport": "audit",
    "CapacityPlan": "capacity_plan",
    "ClientReport": "run_parts",
    "CostReport": "cost",
    "Derivation": "capacity_plan",
    "Distribution": "distribution",
    "EngineConfig": "engine_config",
    "EngineCounters": "run_parts",
    "Finding": "audit",
    "FinishReason": "records",
    "GaugeStats": "run_parts",
    "GpuSpec": "gpu_spec",
    "HardwareProfile": "hardware_profile",
    "HistogramWindow": "run_parts",
    "KvPlan": "capacity_plan",
    "LagStats": "run_parts",
    "LatencyPlan": "capacity_plan",
    "LoadSpec": "load",
    "MLASpec": "model_spec",
    "MemoryBudget": "capacity_plan",
    "MoESpec": "model_spec",
    "ModelSpec": "model_spec",
    "PlanEngine": "capacity_plan",
    "PlanRanking": "capacity_plan",
    "PriceBook": "cost",
    "PricePoint": "gpu_spec",
    "PriceSource": "cost",
    "PriceUsed": "cost",
    "ProfileCoefficients": "hardware_profile",
    "ProfileProvenance": "hardware_profile",
    "Provenance": "records",
    "RankBy": "capacity_plan",
    "RequestBasis": "cost",
    "RequestRecord": "records",
    "RequestSpec": "workload",
    "ResolvedEngineConfig": "engine_config",
    "RunResult": "records",
    "RunSummary": "run_summary",
    "SLO": "slo",
    "SLOTarget": "slo",
    "SamplingParams": "workload",
    "ServerMetricsReport": "run_parts",
    "ServerWindow": "run_parts",
    "SimulatorStats": "run_parts",
    "SpeculativeConfig": "engine_config",
    "StepSample": "records",
    "TargetResult": "run_summary",
    "ThroughputPlan": "capacity_plan",
    "Validity": "run_parts",
    "Verdict": "capacity_plan",
    "WeightsPlan": "capacity_plan",
    "Workload": "workload",
}

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


__getattr__ = lazy_getattr(__name__, _HOMES, globals())
