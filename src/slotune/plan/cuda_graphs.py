"""CUDA graphs as vLLM captures them: which token counts run a graph, and the size a batch is padded to.

A step whose token count is at most the largest capture size replays the graph of the next capture size up:
its linear layers and all-reduces run on the padded count (uniform decode batches: a FULL graph; mixed batches:
PIECEWISE graphs with attention eager). Larger steps, and every step under --enforce-eager, run eagerly,
unpadded.
"""

from __future__ import annotations

from bisect import bisect_left

from slotune.models import ResolvedEngineConfig


def default_capture_sizes(
    max_num_seqs: int, max_num_batched_tokens: int, num_spec_tokens: int = 0
) -> tuple[int, ...]:
    """vLLM's default CUDA-graph capture sizes (vllm/config/vllm.py `_set_cudagraph_sizes`):
    [1, 2, 4] + range(8, 256, 8) + range(256, max + 1, 16), max = min(max_num_seqs * query_len * 2, 512,
    max_num_batched_tokens); with speculative decoding every size rounds up to a multiple of k + 1."""
    query_len = 1 + num_spec_tokens
    max_size = min(max_num_seqs * query_len * 2, 512, max_num_batched_tokens)
    sizes = [s for s in (1, 2, 4) if s <= max_size]
    if max_size >= 8:
        sizes += list(range(8, min(max_size + 1, 256), 8))
    if max_size >= 256:
        sizes += list(range(256, max_size + 1, 16))
    if num_spec_tokens:
        sizes = [-(-s // query_len) * query_len for s in sizes]
        sizes = [s for s in sizes if s <= max_num_batched_tokens]
    return tuple(sorted(set(sizes)))


def engine_capture_sizes(config: ResolvedEngineConfig) -> tuple[int, ...]:
    """--cuda-graph-capture-sizes, else vLLM's defaults for the configuration (its defaults resolved)."""
    if config.cudagraph_capture_sizes:
        return tuple(config.cudagraph_capture_sizes)
    spec = config.speculative_config
    num_spec = spec.num_speculative_tokens if spec is not None else 0
    return default_capture_sizes(config.max_num_seqs, config.max_num_batched_tokens, num_spec)


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
