"""CUDA graphs as vLLM captures them: which token counts run a graph, and the size a batch is padded to.

A step whose token count is at most the largest capture size replays the graph of the next capture size up:
its linear layers and all-reduces run on the padded count (uniform decode batches: a FULL graph; mixed batches:
PIECEWISE graphs with attention eager). Larger steps, and every step under --enforce-eager, run eagerly,
unpadded.
"""

from __future__ import annotations

from bisect import bisect_left

from slotune.models import GpuSpec, ModelSpec, ResolvedEngineConfig
from slotune.vllm_versions import VllmBehaviour, vllm_behaviour


def _grid(max_size: int) -> list[int]:
    """[1, 2, 4] + range(8, 256, 8) + range(256, max + 1, 16), up to max_size."""
    sizes = [s for s in (1, 2, 4) if s <= max_size]
    if max_size >= 8:
        sizes += list(range(8, min(max_size + 1, 256), 8))
    if max_size >= 256:
        sizes += list(range(256, max_size + 1, 16))
    return sizes


def _uniform_decode_sizes(max_num_seqs: int, query_len: int, cap: int, max_size: int) -> list[int]:
    """0.32's widest uniform decode batches: max_num_seqs, or request counts x (1 + k) with drafts."""
    if query_len == 1:
        return [max_num_seqs] if max_num_seqs <= cap else []
    max_reqs = min(max_num_seqs, max_size)
    counts = sorted({*_grid(max_reqs), max_reqs})
    return sorted({n * query_len for n in counts if n * query_len <= cap})


def round_to_query_len(sizes: tuple[int, ...], query_len: int) -> tuple[int, ...]:
    """config/compilation.py `adjust_cudagraph_sizes_for_spec_decode` (V1 model runner, speculative decoding):
    every size rounded up to a multiple of 1 + k, dropping those that pass the largest size."""
    if not sizes or query_len <= 1:
        return sizes
    top = sizes[-1]
    rounded = sorted({r for s in sizes if (r := -(-s // query_len) * query_len) <= top})
    if not rounded and query_len <= top:
        rounded = [query_len]
    return tuple(rounded)


def default_capture_sizes(
    max_num_seqs: int,
    max_num_batched_tokens: int,
    num_spec_tokens: int = 0,
    *,
    max_size: int = 512,
    uniform_decode_sizes: bool = False,
) -> tuple[int, ...]:
    """vLLM's default CUDA-graph capture sizes (vllm/config/vllm.py `VllmConfig._set_cudagraph_sizes`):
    `_grid(cap)` with cap = min(max_num_seqs x (1 + k) x 2, max_size, max_num_batched_tokens), plus
    max_num_batched_tokens itself when it is at most cap; `max_size` is 512 (0.32: 1024 on compute capability
    10.x), and 0.32 (`uniform_decode_sizes`) adds the widest uniform decode batches."""
    query_len = 1 + num_spec_tokens
    cap = min(max_num_seqs * query_len * 2, max_size)
    decode = _uniform_decode_sizes(max_num_seqs, query_len, cap, max_size) if uniform_decode_sizes else []
    cap = min(cap, max_num_batched_tokens)
    sizes = _grid(cap)
    if max_num_batched_tokens <= cap:
        sizes.append(max_num_batched_tokens)
    sizes += [s for s in decode if s <= max_num_batched_tokens]
    return tuple(sorted(set(sizes)))


def engine_capture_sizes(
    config: ResolvedEngineConfig,
    behaviour: VllmBehaviour | None = None,
    *,
    compute_capability: str | None = None,
    is_v1_model_runner: bool = False,
) -> tuple[int, ...]:
    """--cuda-graph-capture-sizes (those up to max_num_batched_tokens), else vLLM's defaults for the
    configuration on a GPU of `compute_capability`; with speculative decoding on the V1 model runner every size
    is rounded to a multiple of 1 + k."""
    behaviour = behaviour or vllm_behaviour()
    spec = config.speculative_config
    num_spec = spec.num_speculative_tokens if spec is not None else 0
    if config.cudagraph_capture_sizes:
        sizes = tuple(
            sorted({s for s in config.cudagraph_capture_sizes if s <= config.max_num_batched_tokens})
        )
    else:
        is_cc10 = compute_capability is not None and compute_capability.split(".")[0] == "10"
        sizes = default_capture_sizes(
            config.max_num_seqs,
            config.max_num_batched_tokens,
            num_spec,
            max_size=behaviour.max_capture_size_cc10 if is_cc10 else 512,
            uniform_decode_sizes=behaviour.captures_uniform_decode_sizes,
        )
    return round_to_query_len(sizes, 1 + num_spec) if is_v1_model_runner else sizes


def deployment_capture_sizes(
    model: ModelSpec, gpu: GpuSpec, config: ResolvedEngineConfig, behaviour: VllmBehaviour | None = None
) -> tuple[int, ...]:
    """The capture sizes of `config` serving `model` on `gpu` under the vLLM release `behaviour` describes."""
    behaviour = behaviour or vllm_behaviour()
    spec = config.speculative_config
    is_v1 = behaviour.uses_v1_model_runner(
        model.architecture, model.moe is not None, spec.method if spec is not None else None
    )
    return engine_capture_sizes(
        config, behaviour, compute_capability=gpu.compute_capability, is_v1_model_runner=is_v1
    )


class CudaGraphs:
    """The capture sizes of one engine configuration (none with --enforce-eager) and a padding table."""

    __slots__ = ("_pad_to", "max_size", "sizes")

    def __init__(self, sizes: tuple[int, ...], *, enforce_eager: bool = False) -> None:
        self.sizes = () if enforce_eager else tuple(sorted(sizes))
        self.max_size = self.sizes[-1] if self.sizes else 0
        # _pad_to[n]: the graph a batch of n tokens replays (the next capture size up).
        self._pad_to = [0] + [self.sizes[bisect_left(self.sizes, n)] for n in range(1, self.max_size + 1)]

    def padded(self, num_tokens: int) -> int:
        """Tokens the step runs: the next capture size up, or num_tokens itself when no graph covers it."""
        return self._pad_to[num_tokens] if num_tokens <= self.max_size else num_tokens

    def is_graphed(self, num_tokens: int) -> bool:
        return 0 < num_tokens <= self.max_size
