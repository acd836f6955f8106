"""CUDA-graph capture sizes and padding as vLLM sets them up."""

from __future__ import annotations

from slotune.catalog import get_gpu, get_model
from slotune.models import EngineConfig
from slotune.plan.cuda_graphs import CudaGraphs, default_capture_sizes, engine_capture_sizes
from slotune.vllm_rules import resolve_engine_config


def test_default_capture_sizes_match_vllm() -> None:
    # vLLM: [1, 2, 4] + range(8, 256, 8) + range(256, max + 1, 16), max = min(2 * max_num_seqs, 512, mnbt).
    sizes = default_capture_sizes(1024, 8192)
    assert sizes[:4] == (1, 2, 4, 8) and sizes[-1] == 512
    assert 248 in sizes and 256 in sizes and 272 in sizes and 264 not in sizes
    assert default_capture_sizes(8, 2048) == (1, 2, 4, 8, 16)
    # With 3 draft tokens every size is a multiple of 4.
    assert all(s % 4 == 0 for s in default_capture_sizes(64, 8192, num_spec_tokens=3))


def test_a_batch_pads_to_the_next_capture_size() -> None:
    graphs = CudaGraphs(default_capture_sizes(1024, 8192))
    assert [graphs.padded(n) for n in (1, 3, 9, 255, 256, 257, 383, 512)] == [
        1,
        4,
        16,
        256,
        256,
        272,
        384,
        512,
    ]
    assert graphs.padded(513) == 513 and not graphs.is_graphed(513)  # above the largest: eager, unpadded
    eager = CudaGraphs(default_capture_sizes(1024, 8192), enforce_eager=True)
    assert eager.padded(3) == 3 and not eager.is_graphed(3)


def test_explicit_capture_sizes_win() -> None:
    config = resolve_engine_config(
        get_model("llama-3.1-8b"),
        get_gpu("h100"),
        EngineConfig(max_num_seqs=256, max_num_batched_tokens=2048, cudagraph_capture_sizes=(1, 8, 64)),
    )
    assert engine_capture_sizes(config) == (1, 8, 64)
    assert engine_capture_sizes(config.model_copy(update={"cudagraph_capture_sizes": None}))[-1] == 512
