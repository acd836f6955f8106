"""What `slotune tune` finds: each configuration's SLO capacity, the Pareto frontier, the baselines and the
recommendation (slotune.tune computes them; docs/tuning.md defines every number).

A configuration is one `Candidate` (model, quantization, GPU, GPUs per replica and replicas, speculative
decoding) plus the engine flags searched (`EngineConfig`). Its capacity is the highest request rate per
replica at which the SLO holds with its target attainment, on the user's workload and load shape.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.deploy import DeploySource
from slotune.models.engine_config import EngineConfig
from slotune.models.load import LoadSpec
from slotune.models.reports import SavedResult
from slotune.models.slo import SLO

# Where a point came from: the search, a confirmation on the real engine, or a baseline measured in the same
# study: vLLM's defaults, the seed's settings, a grid point under its E2E limit, the grid's pick under the SLO.
PointRole = Literal["search", "confirm", "defaults", "seed", "grid", "grid-pick"]
# What limits a configuration at its capacity (slotune.tune.binding).
BindingKind = Literal["kv-capacity", "max-num-seqs", "compute", "bandwidth", "queueing", "slo"]
ParamValue = str | int | float | bool | None


class Candidate(Frozen):
    """The deployment around the engine flags: which model, quantization and GPU, and how many of them."""

    model: str
    quantization: str | None = None
    gpu: str
    tensor_parallel_size: int = Field(default=1, gt=0)
    # Copies of the model behind one load balancer; each gets 1/replicas of the traffic.
    replicas: int = Field(default=1, gt=0)
    # The --speculative-config JSON (None: off).
    speculative: str | None = None

    @property
    def num_gpus(self) -> int:
        return self.tensor_parallel_size * self.replicas

    def describe(self) -> str:
        quant = f" {self.quantization}" if self.quantization else ""
        layout = f"TP{self.tensor_parallel_size}" + (
            f" x{self.replicas} replicas" if self.replicas > 1 else ""
        )
        spec = ", speculative" if self.speculative else ""
        return f"{self.model}{quant} on {self.num_gpus} {self.gpu} ({layout}{spec})"


class ProbeResult(Frozen):
    """One load level of a capacity search: `repeats` runs at `rate_rps` per replica."""

    rate_rps: float
    held: bool  # every repeat met the SLO
    repeats: int = 1
    num_met: int = 0
    attainment: float | None = None  # mean over the repeats
    goodput_rps: float | None = None
    goodput_output_tokens_per_s: float | None = None
    output_tokens_per_s: float | None = None
    # The SLO term that failed first (e.g. "ttft p99", "attainment"); None when it held.
    failed_term: str | None = None
    # Stopped early: more requests had missed the SLO than its target attainment allows.
    stopped_early: bool = False
    wall_s: float = 0.0


class AtCapacity(Frozen):
    """The run at the capacity rate: the numbers the objectives and the binding analysis read."""

    rate_rps: float
    attainment: float
    goodput_rps: float
    goodput_output_tokens_per_s: float
    output_tokens_per_s: float
    ttft_p99_s: float | None = None
    itl_p99_s: float | None = None
    tpot_p50_s: float | None = None
    e2e_p99_s: float | None = None
    kv_usage_max: float | None = None
    num_running_max: float | None = None
    num_waiting_mean: float | None = None
    num_preemptions: int = 0
    # Sample standard deviation of the goodput over the repeats (None: one run).
    goodput_rps_std: float | None = None


class Binding(Frozen):
    """What stops a configuration from holding the SLO at a higher rate, with the evidence."""

    kind: BindingKind
    slo_term: str | None = None  # the SLO term that fails first just above capacity
    evidence: str


class CapacityResult(Frozen):
    """Highest rate per replica at which the SLO holds (0: not even at the lowest rate tried)."""

    max_rate_rps: float
    # Where noisy repeats disagree: from the highest rate where every repeat held to the lowest where none did.
    interval_rps: tuple[float, float] | None = None
    probes: tuple[ProbeResult, ...] = ()
    at_capacity: AtCapacity | None = None
    binding: Binding | None = None
    num_runs: int = 0
    wall_s: float = 0.0


class Objectives(Frozen):
    """The two objectives of the study and the figures they come from (per deployment, all replicas)."""

    goodput_rps: float  # requests meeting the SLO per second, all replicas
    goodput_per_gpu_hour: float  # requests meeting the SLO per GPU-hour
    goodput_output_tokens_per_s: float
    usd_per_mtok: float | None = None  # $ per million output tokens of requests that met the SLO
    usd_per_hour: float | None = None
    # Per-user latency: median time per output token at capacity (1 / per-user speed).
    tpot_p50_s: float
    # With a target rate: the replicas and GPUs that serve it at this configuration's capacity.
    replicas_for_rate: int | None = None
    gpus_for_rate: int | None = None


class TunePoint(Frozen):
    """One configuration evaluated in the study."""

    trial: int | None = None
    role: PointRole = "search"
    backend: str  # "simulator" or "vllm"
    candidate: Candidate
    params: dict[str, ParamValue] = Field(default_factory=dict)
    engine_config: EngineConfig
    pruned: str | None = None  # why it never ran (does not fit, vLLM would refuse)
    capacity: CapacityResult | None = None
    objectives: Objectives | None = None
    # Trial whose result this one reused (same configuration evaluated before).
    reused_from: int | None = None


class Confirmation(Frozen):
    """A configuration measured on the real engine after the simulator ranked it."""

    point: TunePoint  # the measured point (backend "vllm")
    predicted: TunePoint  # the simulator's point for the same configuration
    # |measured - predicted| / measured capacity; above `allowed_error` the measurement is trusted and said so.
    capacity_error: float | None = None
    allowed_error: float
    disagrees: bool = False
    note: str = ""


class Recommendation(Frozen):
    """The configuration to deploy, how to start it, and its margin to the SLO."""

    point: TunePoint
    measured: TunePoint | None = None
    vllm_yaml: str
    command_line: str
    # Serving rate per replica the recommendation is sized for, and its margin: 1 - rate / capacity.
    serving_rate_rps: float | None = None
    margin: float | None = None
    reasons: tuple[str, ...] = ()


class GridBaseline(Frozen):
    """An `auto_tune.sh`-style grid: max_num_seqs x max_num_batched_tokens, each point's highest rate under a
    P99 E2E limit only; its pick is the point with the most throughput, then judged against the real SLO."""

    max_num_seqs: tuple[int, ...]
    max_num_batched_tokens: tuple[int, ...]
    e2e_p99_limit_s: float
    num_trials: int
    points: tuple[TunePoint, ...] = ()  # under the E2E limit
    pick: TunePoint | None = None  # the grid's choice, judged against the user's SLO


class TuneInputs(Frozen):
    """What the study was run on: enough to run it again."""

    model: str
    gpus: tuple[str, ...]
    workload_name: str
    workload_digest: str
    slo: SLO
    load: LoadSpec  # the load shape; the capacity search sets its rate
    engine: Literal["sim", "vllm"]
    budget: int
    seed: int = 0
    profile: str = ""
    target_rate_rps: float | None = None
    tiers: tuple[int, ...] = (1, 2, 3)
    space: dict[str, tuple[ParamValue, ...]] = Field(default_factory=dict)
    objective: Literal["cost", "goodput-per-gpu"] = "cost"
    study_name: str = ""
    storage: str = ""  # the URL with any password removed


class TuneReport(SavedResult):
    """`slotune tune --out`: the study's points, frontier, baselines and recommendation."""

    SCHEMA_VERSION: ClassVar[int] = 1
    kind: Literal["tune"] = "tune"
    schema_version: int = SCHEMA_VERSION
    inputs: TuneInputs
    points: tuple[TunePoint, ...] = ()
    # Trial numbers of the Pareto-optimal points among the search's (cost or goodput/GPU vs per-user latency).
    frontier: tuple[int, ...] = ()
    baselines: dict[str, TunePoint] = Field(default_factory=dict)  # "defaults", "seed"
    grid: GridBaseline | None = None
    confirmations: tuple[Confirmation, ...] = ()
    recommendation: Recommendation | None = None
    num_configurations: int = 0  # distinct configurations evaluated (pruned ones not counted)
    num_pruned: int = 0
    num_sim_runs: int = 0
    num_real_runs: int = 0
    wall_s: float = 0.0
    notes: tuple[str, ...] = ()

    def deploy_source(self) -> DeploySource | None:
        """What `slotune deploy` renders: the recommendation (as measured on vLLM when it was confirmed), with the
        candidate's model, GPU, parallelism and replicas, and the SLO it was tuned for."""
        if self.recommendation is None:
            return None
        point = self.recommendation.measured or self.recommendation.point
        candidate = point.candidate
        update: dict[str, object] = {"tensor_parallel_size": candidate.tensor_parallel_size}
        if candidate.quantization:
            update["quantization"] = candidate.quantization
        engine = point.engine_config.model_copy(update=update)
        if candidate.speculative:
            engine = EngineConfig.model_validate(
                {**engine.model_dump(exclude_unset=False), "speculative_config": candidate.speculative}
            )
        return DeploySource(
            engine_config=engine,
            model=candidate.model,
            gpu=candidate.gpu,
            slo=self.inputs.slo,
            replicas=candidate.replicas,
            origin=f"tune recommendation ({point.backend})",
        )
