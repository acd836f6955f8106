"""What `slotune deploy` reads from a saved result and what it decides before rendering any file.

A saved result that carries an engine configuration (a simulation, a benchmark, a tuning's recommendation) hands
deploy a `DeploySource` through its `deploy_source()` method; deploy turns it into one `Deployment` (the resolved
flags, the resources, the probes, the autoscaling and the monitoring thresholds), and each target (vLLM command,
vLLM config file, compose, Kubernetes, production-stack values) is a rendering of that one Deployment.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.engine_config import EngineConfig, ResolvedEngineConfig
from slotune.models.launch import StartupFacts
from slotune.models.slo import SLO

DeployTarget = Literal["vllm-cmd", "vllm-config", "compose", "k8s", "helm-values"]


class DeploySource(Frozen):
    """The engine configuration to ship and what it was chosen for, as a saved result states it."""

    engine_config: EngineConfig
    # The catalog id or Hugging Face id of the model the configuration was evaluated with ("" when unknown).
    model: str = ""
    gpu: str = ""  # catalog GPU id ("" when unknown)
    slo: SLO | None = None
    vllm_version: str = ""  # the vLLM the result ran against ("" for a simulation)
    replicas: int | None = Field(default=None, gt=0)  # as tuned (None: the result does not say)
    # Start-up timings of a server slotune launched with this configuration (they size the start-up probe).
    startup: StartupFacts | None = None
    origin: str  # what the configuration comes from, for the files' headers ("simulate result run.json")


class Resources(Frozen):
    """What one replica asks of its node (see docs/deploy.md for each formula)."""

    num_gpus: int = Field(gt=0)
    cpu_cores: int = Field(gt=0)
    memory_request_bytes: int = Field(gt=0)
    memory_limit_bytes: int = Field(gt=0)  # the request plus /dev/shm, which is memory-backed
    shm_bytes: int = Field(gt=0)
    cache_bytes: int = Field(gt=0)  # the model cache volume: the checkpoint plus compile caches
    checkpoint_bytes: int = Field(gt=0)


class StartupBudget(Frozen):
    """How long a replica may take to become healthy: the start-up probe's budget, and what it is made of."""

    download_s: float = Field(ge=0)
    load_s: float = Field(ge=0)
    compile_s: float = Field(ge=0)
    graph_capture_s: float = Field(ge=0)
    engine_init_s: float = Field(ge=0)
    margin: float = Field(gt=1)
    measured: bool  # the load, compile and capture times come from a launched server's log
    total_s: int = Field(gt=0)


class Autoscaling(Frozen):
    """Replicas follow the queue and the KV cache, never GPU utilization (a busy GPU says nothing of the SLO)."""

    min_replicas: int = Field(gt=0)
    max_replicas: int = Field(gt=0)
    # Requests waiting per replica above which a replica is added.
    waiting_per_replica: float = Field(gt=0)
    # Mean KV-cache usage (0-1) above which a replica is added.
    kv_usage: float = Field(gt=0, le=1)


class BucketAdvice(Frozen):
    """Where an SLO threshold falls among a histogram's bucket edges, and what the monitoring does about it."""

    metric: str  # the SLO metric: ttft, itl, tpot, e2e
    stat: str  # its percentile: p99, p90, ...
    histogram: str  # the vLLM histogram family
    threshold_s: float
    # The edge the rules count good events at: the threshold itself when it is an edge, otherwise the edge below.
    judged_at_s: float
    is_edge: bool  # the threshold is an edge of the server's buckets (default or custom)
    bucket_family: str | None = None  # --custom-histogram-buckets key (vLLM 0.32+)
    # The edges the rendered server is given for this family (None: vLLM's defaults are kept).
    custom_edges: tuple[float, ...] | None = None
    note: str


class Deployment(Frozen):
    """Everything every deploy target renders: one model on one GPU type, N replicas, one SLO."""

    name: str  # a DNS-1123 label: Kubernetes objects, compose service, Prometheus job
    model: str  # what vLLM serves: a Hugging Face id or a path
    served_model_name: str  # the model_name label of every vLLM metric
    gpu: str
    vllm_version: str  # the catalogued release the flags and metric names are for
    image: str
    port: int = 8000
    engine: ResolvedEngineConfig
    # Every engine flag, explicit (no default left to the vLLM that runs it): vLLM's flag name without dashes
    # -> value (booleans both ways), and the same as command-line arguments.
    engine_flags: dict[str, Any]
    vllm_args: tuple[str, ...]
    custom_histogram_buckets: dict[str, tuple[float, ...]] = Field(default_factory=dict)
    replicas: int = Field(gt=0)
    resources: Resources
    startup: StartupBudget
    autoscaling: Autoscaling
    slo: SLO | None = None
    bucket_advice: tuple[BucketAdvice, ...] = ()
    hf_token_secret: str
    api_key_secret: str
    origin: str
    notes: tuple[str, ...] = ()
