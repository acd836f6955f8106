"""One GPU's memory budget as vLLM V1 accounts it, the KV capacity left, and whether a configuration fits.

Fits when the budget covers the non-KV terms and the KV cache holds one request of max_model_len (vLLM's
check_enough_kv_cache_memory); min_tp is the smallest valid TP size for which that holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from slotune.models import GpuSpec, MemoryBudget, ModelSpec, ResolvedEngineConfig
from slotune.plan.derivation import Derived, Explain, derived
from slotune.plan.kv import (
    KvCapacity,
    blocks_per_request,
    derive_kv_capacity_blocks,
    derive_kv_capacity_tokens,
    in_flight_tokens,
    kv_capacity,
    kv_groups,
)
from slotune.plan.memory import (
    derive_activation_peak_bytes,
    derive_cuda_graph_bytes,
    derive_kv_cache_bytes,
    derive_non_torch_bytes,
    derive_weights_bytes_per_gpu,
    rotary_cache_bytes,
)
from slotune.plan.quantization import QuantScheme
from slotune.plan.tensor_parallel import TP_SIZES, valid_tp_sizes
from slotune.units import GiB
from slotune.vllm_rules import effective_block_size
from slotune.vllm_versions import VllmBehaviour, vllm_behaviour


@dataclass(frozen=True, slots=True)
class Memory:
    budget: MemoryBudget
    capacity: KvCapacity
    block_size: int

    @property
    def available_kv(self) -> int:
        return self.budget.kv_cache_bytes


def memory(
    model: ModelSpec,
    gpu: GpuSpec,
    engine: ResolvedEngineConfig,
    scheme: QuantScheme,
    ex: Explain,
    behaviour: VllmBehaviour | None = None,
) -> Memory:
    """vLLM's budget on one GPU and the KV blocks it leaves (under the vLLM release `behaviour` describes)."""
    behaviour = behaviour or vllm_behaviour()
    tp = engine.tensor_parallel_size
    weights = ex.take(derive_weights_bytes_per_gpu(model, scheme, tp))
    activation = ex.take(
        derive_activation_peak_bytes(
            model,
            max_num_batched_tokens=engine.max_num_batched_tokens,
            max_num_seqs=engine.max_num_seqs,
            tensor_parallel_size=tp,
        )
    )
    non_torch = ex.take(derive_non_torch_bytes(tp))
    graphs = ex.take(derive_cuda_graph_bytes(enforce_eager=engine.enforce_eager))
    rotary = rotary_cache_bytes(model)
    non_kv = {
        "weights_bytes_per_gpu": weights,
        "rotary_cache_bytes": rotary,
        "activation_peak_bytes": activation,
        "non_torch_bytes": non_torch,
        "cuda_graph_bytes": graphs,
    }
    available = ex.take(
        derive_kv_cache_bytes(
            total_memory_bytes=gpu.memory_bytes,
            gpu_memory_utilization=engine.gpu_memory_utilization,
            non_kv=non_kv,
            kv_cache_memory_bytes=engine.kv_cache_memory_bytes,
        )
    )
    block_size = effective_block_size(model, engine.block_size)
    groups = kv_groups(model, engine.kv_cache_dtype, tensor_parallel_size=tp, block_size=block_size)
    in_flight = in_flight_tokens(
        engine.max_num_batched_tokens,
        async_scheduling=engine.async_scheduling,
        counts_batches=behaviour.sliding_window_counts_in_flight_batches,
    )
    capacity = kv_capacity(
        max(available, 0), groups, block_size, max_model_len=engine.max_model_len, in_flight_tokens=in_flight
    )
    ex.take(derive_kv_capacity_blocks(capacity, available))
    ex.take(derive_kv_capacity_tokens(capacity))
    budget = MemoryBudget(
        gpu_memory_bytes=gpu.memory_bytes,
        gpu_memory_utilization=engine.gpu_memory_utilization,
        budget_bytes=gpu.memory_bytes * engine.gpu_memory_utilization,
        weights_bytes=weights,
        rotary_cache_bytes=rotary,
        activation_peak_bytes=activation,
        non_torch_bytes=non_torch,
        cuda_graph_bytes=graphs,
        kv_cache_bytes=available,
    )
    return Memory(budget, capacity, block_size)


def one_request_fits(mem: Memory, max_model_len: int) -> bool:
    capacity = mem.capacity
    needed = blocks_per_request(capacity.groups, max_model_len, mem.block_size, capacity.in_flight_tokens)
    return mem.available_kv >= needed * capacity.groups.block_bytes


def largest_fitting_len(mem: Memory, max_model_len: int) -> int:
    """vLLM's estimate_max_model_len: the longest context one request can hold (binary search)."""
    lo, hi, best = 1, max_model_len, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if one_request_fits(mem, mid):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def misfit_reasons(mem: Memory, engine: ResolvedEngineConfig, gpu: GpuSpec) -> list[str]:
    """Why vLLM would not start with this budget (empty: it fits)."""
    b = mem.budget
    non_kv = b.weights_bytes + b.rotary_cache_bytes + b.activation_peak_bytes + b.non_torch_bytes
    non_kv += b.cuda_graph_bytes
    if engine.kv_cache_memory_bytes is None and non_kv >= b.budget_bytes:
        return [
            f"weights {b.weights_bytes / GiB:.2f} GiB + activations {b.activation_peak_bytes / GiB:.2f} GiB + "
            f"overheads {(b.non_torch_bytes + b.cuda_graph_bytes) / GiB:.2f} GiB per GPU exceed the budget "
            f"{b.budget_bytes / GiB:.2f} GiB ({gpu.memory_bytes / GiB:.2f} GiB x {engine.gpu_memory_utilization})"
        ]
    max_len = engine.max_model_len
    if not one_request_fits(mem, max_len):
        longest = largest_fitting_len(mem, max_len)
        return [
            f"the KV cache ({max(mem.available_kv, 0) / GiB:.2f} GiB per GPU) cannot hold one request of "
            f"max_model_len={max_len}; the longest that fits is {longest} tokens (lower --max-model-len, raise "
            "--gpu-memory-utilization, quantize, or raise --tensor-parallel-size)"
        ]
    return []


def min_tp(
    model: ModelSpec,
    gpu: GpuSpec,
    engine: ResolvedEngineConfig,
    scheme: QuantScheme,
    behaviour: VllmBehaviour | None = None,
) -> int | None:
    """Smallest valid TP size whose per-GPU weights, overheads and one max_model_len request fit the budget."""
    for tp in valid_tp_sizes(model):
        config = engine.model_copy(update={"tensor_parallel_size": tp})
        if one_request_fits(memory(model, gpu, config, scheme, Explain(), behaviour), engine.max_model_len):
            return tp
    return None


def derive_min_tp(
    model: ModelSpec,
    gpu: GpuSpec,
    engine: ResolvedEngineConfig,
    scheme: QuantScheme,
    behaviour: VllmBehaviour | None = None,
) -> Derived[int]:
    best = min_tp(model, gpu, engine, scheme, behaviour)
    return derived(
        "min_tp",
        best or 0,
        "GPUs",
        f"smallest TP of {', '.join(map(str, TP_SIZES))} dividing the attention (and KV) heads whose weights + "
        "overheads + one max_model_len request fit total x utilization (0: none)",
        max_model_len=engine.max_model_len or 0,
        valid_sizes=str(valid_tp_sizes(model)),
    )
