"""What one replica asks of its node, and how long it may take to start, from the capacity plan.

The GPU count is the plan's (tensor x pipeline parallel). The rest are slotune's sizing rules, each stated here
and in docs/deploy.md, so a reader can change the one that does not fit their cluster:
- CPU: vLLM's API server and engine core each keep a core busy, and every GPU worker drives its GPU from one
  more; a starved CPU shows up as slow token streaming (the framework's "CPU bottleneck" anti-pattern).
- Memory: the processes (API server, engine core, one worker per GPU, each with torch and CUDA libraries
  mapped), not the weights: vLLM streams safetensors from the page cache to the GPU a tensor at a time.
- /dev/shm: PyTorch's inter-process tensors and NCCL's shared-memory transport between the GPUs of one replica;
  memory-backed, so it is added to the memory limit.
- Cache volume: the checkpoint as downloaded (its published dtype, whatever vLLM quantizes it to on load), plus
  room for torch.compile and Triton caches.
- Start-up: download (cold cache) + load + torch.compile + CUDA-graph capture + engine start, with a margin;
  measured times from a launched server replace the estimates where the result has them.
"""

from __future__ import annotations

import math

from slotune.models import CapacityPlan, ModelSpec, ResolvedEngineConfig
from slotune.models.deploy import Autoscaling, Resources, StartupBudget
from slotune.models.launch import StartupFacts
from slotune.units import DTYPE_BYTES, GB, MB, GiB

CPU_CORES_BASE = 2  # API server + engine core
CPU_CORES_PER_GPU = 2  # the GPU worker + tokenization and detokenization headroom
MEMORY_BASE_BYTES = 8 * GiB
MEMORY_PER_GPU_BYTES = 4 * GiB
SHM_BASE_BYTES = 1 * GiB
SHM_PER_GPU_BYTES = 1 * GiB
COMPILE_CACHE_BYTES = 10 * GiB
CACHE_HEADROOM = 1.25

DOWNLOAD_BYTES_PER_S = 100 * MB  # a cold download from the model hub
LOAD_BYTES_PER_S = 1 * GB  # the model cache volume to one GPU
COMPILE_S = 180.0  # torch.compile of a large model, cold cache
GRAPH_CAPTURE_S = 60.0
ENGINE_INIT_S = 60.0  # memory profiling, KV-cache allocation, warm-up
STARTUP_MARGIN = 1.5
MIN_STARTUP_S = 300

# Autoscaling: a replica is added when more than this many requests wait per replica, or when the mean KV
# cache usage passes this share (before it is full and requests queue behind it).
WAITING_PER_REPLICA = 2.0
KV_USAGE_TARGET = 0.8


def checkpoint_bytes(model: ModelSpec, plan: CapacityPlan) -> int:
    """The checkpoint's size on disk: its parameters in the published dtype, or the plan's weight bytes for a
    checkpoint that ships quantized."""
    if model.checkpoint_quantization is not None:
        return plan.weights.bytes
    per_param = DTYPE_BYTES.get(model.torch_dtype, 2.0)
    return max(plan.weights.bytes, int(plan.weights.total_params * per_param))


def replica_resources(model: ModelSpec, engine: ResolvedEngineConfig, plan: CapacityPlan) -> Resources:
    gpus = engine.num_gpus
    request = MEMORY_BASE_BYTES + MEMORY_PER_GPU_BYTES * gpus
    shm = SHM_BASE_BYTES + SHM_PER_GPU_BYTES * gpus
    checkpoint = checkpoint_bytes(model, plan)
    cache = _round_up(checkpoint * CACHE_HEADROOM + COMPILE_CACHE_BYTES, GiB)
    return Resources(
        num_gpus=gpus,
        cpu_cores=CPU_CORES_BASE + CPU_CORES_PER_GPU * gpus,
        memory_request_bytes=request,
        memory_limit_bytes=request + shm,
        shm_bytes=shm,
        cache_bytes=cache,
        checkpoint_bytes=checkpoint,
    )


def _round_up(value: float, unit: int) -> int:
    return math.ceil(value / unit) * unit


def _measured(facts: StartupFacts | None) -> bool:
    return facts is not None and facts.model_load_s is not None


def startup_budget(
    engine: ResolvedEngineConfig, resources: Resources, facts: StartupFacts | None
) -> StartupBudget:
    """The start-up probe's budget. Compile and capture are skipped with --enforce-eager."""
    download = resources.checkpoint_bytes / DOWNLOAD_BYTES_PER_S
    per_gpu = resources.checkpoint_bytes / resources.num_gpus
    compiled = not engine.enforce_eager
    if facts is not None and _measured(facts):
        load = facts.model_load_s or 0.0
        compile_s = facts.torch_compile_s or 0.0
        capture = facts.cuda_graph_capture_s or 0.0
        init = facts.engine_init_s or 0.0
    else:
        load = per_gpu / LOAD_BYTES_PER_S
        compile_s = COMPILE_S if compiled else 0.0
        capture = GRAPH_CAPTURE_S if compiled else 0.0
        init = ENGINE_INIT_S
    total = (download + load + compile_s + capture + init) * STARTUP_MARGIN
    return StartupBudget(
        download_s=round(download, 1),
        load_s=round(load, 1),
        compile_s=round(compile_s, 1),
        graph_capture_s=round(capture, 1),
        engine_init_s=round(init, 1),
        margin=STARTUP_MARGIN,
        measured=_measured(facts),
        total_s=max(MIN_STARTUP_S, math.ceil(total / 10) * 10),
    )


def autoscaling(replicas: int, max_replicas: int | None) -> Autoscaling:
    return Autoscaling(
        min_replicas=replicas,
        max_replicas=max(max_replicas, replicas)
        if max_replicas is not None
        else max(2 * replicas, replicas + 1),
        waiting_per_replica=WAITING_PER_REPLICA,
        kv_usage=KV_USAGE_TARGET,
    )
