"""Hardware profiles: the coefficients of the step-cost model that datasheets do not give, with provenance.

A profile holds achievable fractions of peak (efficiencies), fixed per-step overheads (CPU scheduling, kernel
launches) and collective latencies. The planner's roofline and the simulator's cost model read the same profile
(slotune.plan.step_cost); efficiencies left empty (None) come from the catalog's `GpuSpec`. Calibration fits
every coefficient from a real engine and writes a new profile.
"""

from __future__ import annotations

from pydantic import Field

from slotune.models.base import Frozen

PROFILE_SCHEMA_VERSION = 1
# The vLLM release a profile stands for when it does not say (the newest release slotune has read).
DEFAULT_VLLM_VERSION = "0.32.0"


class ProfileProvenance(Frozen):
    # "published-figures" (datasheets and public efficiency figures) or "calibrated" (fitted from probes).
    method: str
    sources: tuple[str, ...] = ()
    notes: str = ""
    created: str = ""
    # For calibrated profiles: the engine, model and GPU the probes ran on.
    fitted_on: dict[str, str] = Field(default_factory=dict)


class ProfileCoefficients(Frozen):
    # Fractions of peak; None takes the GpuSpec value (mem_bw_efficiency, mfu_prefill, mfu_decode).
    mem_bw_efficiency: float | None = Field(default=None, gt=0, le=1)
    mfu_prefill: float | None = Field(default=None, gt=0, le=1)
    mfu_decode: float | None = Field(default=None, gt=0, le=1)
    # Achieved fraction of the per-direction GPU link bandwidth in a ring all-reduce.
    interconnect_efficiency: float = Field(default=0.75, gt=0, le=1)
    # Fixed latency of one all-reduce call (NCCL launch + p2p latency).
    allreduce_latency_s: float = Field(default=1.0e-5, ge=0)
    # Engine-core CPU time per step (schedule, prepare inputs, process outputs) and per scheduled sequence.
    step_cpu_s: float = Field(default=3.0e-4, ge=0)
    cpu_per_seq_s: float = Field(default=4.0e-6, ge=0)
    # GPU-side launch overhead per step: one full CUDA graph replay; piecewise graphs (attention eager)
    # and fully eager execution cost per decoder layer.
    graph_launch_s: float = Field(default=2.5e-5, ge=0)
    piecewise_launch_per_layer_s: float = Field(default=8.0e-6, ge=0)
    eager_launch_per_layer_s: float = Field(default=3.5e-5, ge=0)


class HardwareProfile(Frozen):
    schema_version: int = PROFILE_SCHEMA_VERSION
    name: str
    # Bumped whenever a coefficient changes, so saved results say which numbers produced them.
    version: str
    # Catalog GPU id the profile was fitted on; None applies to any GPU.
    gpu: str | None = None
    provenance: ProfileProvenance
    # The vLLM release the profile stands for: it selects the engine rules that differ between releases
    # (slotune.vllm_versions: over-long requests, CUDA-graph sizes, batch defaults, prefix-cache counters, ...).
    # A calibrated profile records the version it was fitted on.
    vllm_version: str = Field(default=DEFAULT_VLLM_VERSION, pattern=r"^v?\d+\.\d+(\.\d+)?\S*$")
    coefficients: ProfileCoefficients = ProfileCoefficients()

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"
