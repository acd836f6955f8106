"""KV-cache bytes per token and vLLM V1's block accounting (vllm/v1/core/kv_cache_utils.py, kv_cache_interface.py).

Per attention layer and token, standard attention stores a key and a value: 2 x kv_heads x head_dim x dtype bytes.
MLA (DeepSeek-V2/V3) stores one compressed latent plus a RoPE key: (kv_lora_rank + qk_rope_head_dim) x dtype
bytes, no x2, and every tensor-parallel rank holds all of it. Sliding-window layers hold at most the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from slotune.errors import InputError
from slotune.models import ModelSpec
from slotune.plan.derivation import Derived, derived

# Bytes per element of the KV cache by --kv-cache-dtype; "auto" follows the model's activation dtype (bf16/fp16).
KV_DTYPE_BYTES: dict[str, int] = {
    "auto": 2,
    "bfloat16": 2,
    "float16": 2,
    "half": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
    "float32": 4,
}

LayerKind = Literal["full", "sliding", "mla"]


def kv_dtype_bytes(kv_cache_dtype: str) -> int:
    key = kv_cache_dtype.strip().lower()
    if key not in KV_DTYPE_BYTES:
        raise InputError("kv_cache_dtype", kv_cache_dtype, "use one of: " + ", ".join(KV_DTYPE_BYTES))
    return KV_DTYPE_BYTES[key]


def kv_heads_per_gpu(model: ModelSpec, tensor_parallel_size: int) -> int:
    """KV heads one rank stores: heads are split across ranks, and replicated when TP exceeds their number."""
    return max(1, model.num_kv_heads // tensor_parallel_size)


@dataclass(frozen=True, slots=True)
class KvLayer:
    kind: LayerKind
    bytes_per_token: int  # this layer, one GPU
    sliding_window: int | None = None


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def kv_layers(model: ModelSpec, kv_cache_dtype: str, *, tensor_parallel_size: int = 1) -> tuple[KvLayer, ...]:
    """One entry per attention layer with its per-token KV bytes on one GPU."""
    dtype_bytes = kv_dtype_bytes(kv_cache_dtype)
    if model.mla is not None:
        per_token = (model.mla.kv_lora_rank + model.mla.qk_rope_head_dim) * dtype_bytes
        return tuple(KvLayer("mla", per_token) for _ in range(model.num_layers))
    per_token = 2 * kv_heads_per_gpu(model, tensor_parallel_size) * model.head_dim * dtype_bytes
    kinds = model.layer_types or tuple("full" for _ in range(model.num_layers))
    layers: list[KvLayer] = []
    for kind in kinds:
        if kind == "sliding" and model.sliding_window is not None:
            layers.append(KvLayer("sliding", per_token, model.sliding_window))
        elif kind == "linear":
            continue  # linear-attention layers keep a fixed-size state, not a per-token cache
        else:
            layers.append(KvLayer("full", per_token))
    return tuple(layers)


def kv_bytes_per_token(model: ModelSpec, kv_cache_dtype: str, *, tensor_parallel_size: int = 1) -> int:
    """KV bytes one token adds across all attention layers of the whole model.

    With tensor_parallel_size > 1: on one GPU (KV heads split, MLA latent replicated). Sliding-window layers are
    included (a token inside the window costs them too); `kv_bytes_for_sequence` caps them at the window.
    """
    layers = kv_layers(model, kv_cache_dtype, tensor_parallel_size=tensor_parallel_size)
    return sum(layer.bytes_per_token for layer in layers)


def derive_kv_bytes_per_token(model: ModelSpec, kv_cache_dtype: str) -> Derived[int]:
    value = kv_bytes_per_token(model, kv_cache_dtype)
    dtype_bytes = kv_dtype_bytes(kv_cache_dtype)
    if model.mla is not None:
        return derived(
            "kv_bytes_per_token",
            value,
            "bytes",
            "(kv_lora_rank + qk_rope_head_dim) x layers x dtype bytes",
            kv_lora_rank=model.mla.kv_lora_rank,
            qk_rope_head_dim=model.mla.qk_rope_head_dim,
            layers=model.num_layers,
            dtype_bytes=dtype_bytes,
        )
    return derived(
        "kv_bytes_per_token",
        value,
        "bytes",
        "2 x num_kv_heads x head_dim x attention layers x dtype bytes",
        num_kv_heads=model.num_kv_heads,
        head_dim=model.head_dim,
        layers=model.num_layers,
        dtype_bytes=dtype_bytes,
        kv_cache_dtype=kv_cache_dtype,
    )


def derive_kv_bytes_per_token_per_gpu(
    model: ModelSpec, kv_cache_dtype: str, tensor_parallel_size: int
) -> Derived[int]:
    return derived(
        "kv_bytes_per_token_per_gpu",
        kv_bytes_per_token(model, kv_cache_dtype, tensor_parallel_size=tensor_parallel_size),
        "bytes",
        "kv_bytes_per_token with max(1, num_kv_heads // tp) heads per GPU (MLA latent: not split)",
        tensor_parallel_size=tensor_parallel_size,
    )


def full_attention_kv_bytes_per_token(
    model: ModelSpec, kv_cache_dtype: str, *, tensor_parallel_size: int = 1
) -> int:
    """KV bytes per token of the layers that keep every token (all of them unless the model has sliding layers)."""
    layers = kv_layers(model, kv_cache_dtype, tensor_parallel_size=tensor_parallel_size)
    return sum(layer.bytes_per_token for layer in layers if layer.kind != "sliding")


def sliding_tokens_held(window: int, num_tokens: int, in_flight_tokens: int) -> int:
    """Tokens vLLM keeps blocks for in a sliding layer: the last window-1 computed plus the tokens scheduled and
    not yet settled (SlidingWindowSpec.max_admission_blocks_per_request), never more than the sequence."""
    return min(window - 1 + in_flight_tokens, num_tokens)


def in_flight_tokens(max_num_batched_tokens: int, *, async_scheduling: bool, counts_batches: bool) -> int:
    """What a sliding layer reserves beyond its window: one max_num_batched_tokens step (vLLM 0.25); 0.32's
    `VllmConfig.max_in_flight_tokens`, one per concurrent batch (two with async scheduling)."""
    return max_num_batched_tokens * (2 if counts_batches and async_scheduling else 1)


def sliding_cap_blocks(window: int, max_model_len: int, in_flight: int, block_size: int) -> int:
    """Blocks one request reserves in a sliding group at admission and at most holds there
    (SlidingWindowSpec.max_admission_blocks_per_request; +1: the window need not start on a block boundary)."""
    return _cdiv(sliding_tokens_held(window, max_model_len, in_flight), block_size) + 1


def kv_bytes_for_sequence(
    model: ModelSpec,
    kv_cache_dtype: str,
    num_tokens: int,
    *,
    tensor_parallel_size: int = 1,
    block_size: int = 16,
    in_flight_tokens: int = 8192,
) -> int:
    """KV bytes one sequence of num_tokens holds on one GPU, block-rounded as vLLM allocates it.

    Full/MLA layers: cdiv(num_tokens, block_size) blocks. Sliding layers: cdiv(window - 1 + chunk, block_size) + 1
    blocks at most (+1: the window need not start on a block boundary).
    """
    total = 0
    for layer in kv_layers(model, kv_cache_dtype, tensor_parallel_size=tensor_parallel_size):
        page = block_size * layer.bytes_per_token
        if layer.kind == "sliding" and layer.sliding_window is not None:
            held = sliding_tokens_held(layer.sliding_window, num_tokens, in_flight_tokens)
            blocks = min(_cdiv(held, block_size) + 1, _cdiv(num_tokens, block_size) + 1)
        else:
            blocks = _cdiv(num_tokens, block_size)
        total += blocks * page
    return total


@dataclass(frozen=True, slots=True)
class KvGroups:
    """vLLM's KV cache groups: layers of one attention type, split into groups of equal size (hybrid models)."""

    group_size: int  # layers per group; each block holds one page for each of them
    num_full_groups: int
    num_sliding_groups: int
    page_bytes: int  # one layer, one block
    sliding_window: int | None

    @property
    def num_groups(self) -> int:
        return self.num_full_groups + self.num_sliding_groups

    @property
    def block_bytes(self) -> int:
        return self.page_bytes * self.group_size


def kv_groups(
    model: ModelSpec, kv_cache_dtype: str, *, tensor_parallel_size: int = 1, block_size: int = 16
) -> KvGroups:
    """Group layers as _get_kv_cache_config_uniform_page_size does: group_size = fewest layers of any type."""
    layers = kv_layers(model, kv_cache_dtype, tensor_parallel_size=tensor_parallel_size)
    page = block_size * layers[0].bytes_per_token
    n_sliding = sum(1 for layer in layers if layer.kind == "sliding")
    n_full = len(layers) - n_sliding
    if n_sliding == 0 or n_full == 0:
        # Uniform type: one group holding every layer (_get_kv_cache_config_uniform_type).
        return KvGroups(len(layers), 1 if n_full else 0, 1 if n_sliding else 0, page, model.sliding_window)
    group_size = min(n_full, n_sliding)
    return KvGroups(
        group_size, _cdiv(n_full, group_size), _cdiv(n_sliding, group_size), page, model.sliding_window
    )


@dataclass(frozen=True, slots=True)
class KvCapacity:
    num_blocks: int
    # What vLLM logs as "GPU KV cache size: N tokens" (kv_cache_utils.get_kv_cache_capacity): max_model_len
    # times the number of max_model_len requests the pool holds.
    tokens: int
    block_size: int
    groups: KvGroups
    max_model_len: int
    # Tokens a sliding layer reserves beyond its window (see in_flight_tokens).
    in_flight_tokens: int


def kv_capacity(
    available_bytes: int, groups: KvGroups, block_size: int, *, max_model_len: int, in_flight_tokens: int
) -> KvCapacity:
    """num_blocks = available // (page_size x layers per group) (get_num_blocks); tokens = int(num_blocks /
    blocks per max_model_len request x max_model_len) (get_kv_cache_capacity)."""
    num_blocks = max(0, available_bytes // groups.block_bytes)
    per_request = blocks_per_request(groups, max_model_len, block_size, in_flight_tokens)
    tokens = int(num_blocks / per_request * max_model_len)
    return KvCapacity(
        num_blocks=num_blocks,
        tokens=tokens,
        block_size=block_size,
        groups=groups,
        max_model_len=max_model_len,
        in_flight_tokens=in_flight_tokens,
    )


def blocks_per_request(groups: KvGroups, num_tokens: int, block_size: int, in_flight_tokens: int) -> int:
    """Blocks one request of num_tokens occupies across all groups, at most (the basis of vLLM's
    max-concurrency line: get_max_concurrency_for_kv_cache_config sums the groups)."""
    full = groups.num_full_groups * _cdiv(num_tokens, block_size)
    sliding = 0
    if groups.num_sliding_groups and groups.sliding_window is not None:
        sliding = groups.num_sliding_groups * sliding_cap_blocks(
            groups.sliding_window, num_tokens, in_flight_tokens, block_size
        )
    elif groups.num_sliding_groups:
        sliding = groups.num_sliding_groups * _cdiv(num_tokens, block_size)
    return max(1, full + sliding)


def max_concurrency(capacity: KvCapacity, num_tokens: int) -> float:
    """Requests of num_tokens each that fit at once: num_blocks / blocks per request."""
    return capacity.num_blocks / blocks_per_request(
        capacity.groups, num_tokens, capacity.block_size, capacity.in_flight_tokens
    )


def derive_kv_capacity_blocks(capacity: KvCapacity, kv_cache_bytes: int) -> Derived[int]:
    groups = capacity.groups
    return derived(
        "kv_capacity_blocks",
        capacity.num_blocks,
        "blocks",
        "kv_cache_bytes // (block_size x kv bytes per token per layer x layers per KV group)",
        kv_cache_bytes=max(kv_cache_bytes, 0),
        block_size=capacity.block_size,
        layers_per_group=groups.group_size,
        page_bytes=groups.page_bytes,
    )


def derive_kv_capacity_tokens(capacity: KvCapacity) -> Derived[int]:
    return derived(
        "kv_capacity_tokens",
        capacity.tokens,
        "tokens",
        "int(num_blocks / blocks per max_model_len request x max_model_len) (vLLM's 'GPU KV cache size')",
        num_blocks=capacity.num_blocks,
        blocks_per_request=blocks_per_request(
            capacity.groups, capacity.max_model_len, capacity.block_size, capacity.in_flight_tokens
        ),
        max_model_len=capacity.max_model_len,
    )


def derive_max_concurrency(
    name: str,
    capacity: KvCapacity,
    request_tokens: int,
    *,
    request: str,
    fits: bool,
) -> Derived[float]:
    """Requests of request_tokens each that fit at once (0 when the configuration does not fit)."""
    value = max_concurrency(capacity, request_tokens) if fits else 0.0
    return derived(
        name,
        value,
        "requests",
        f"num_blocks / blocks per request of {request}",
        num_blocks=capacity.num_blocks,
        request_tokens=request_tokens,
        block_size=capacity.block_size,
    )
