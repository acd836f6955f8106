"""CUDA-graph capture sizes and padding as vLLM sets them up."""

from __future__ import annotations

from slotune.catalog import get_gpu, get_model
from slotune.models import EngineConfig
from slotune.plan.cuda_graphs import (
    CudaGraphs,
    default_capture_sizes,
    deployment_capture_sizes,
    engine_capture_sizes,
    round_to_query_len,
)
from slotune.vllm_rules import resolve_engine_config
from slotune.vllm_versions import vllm_behaviour


def test_default_capture_sizes_match_vllm() -> None:
    # vLLM: [1, 2, 4] + range(8, 256, 8) + range(256, max + 1, 16), max = min(2 * max_num_seqs, 512, mnbt).
    sizes = default_capture_sizes(1024, 8192)
    assert sizes[:4] == (1, 2, 4, 8) and sizes[-1] == 512
    assert 248 in sizes and 256 in sizes and 272 in sizes and 264 not in sizes
    assert default_capture_sizes(8, 2048) == (1, 2, 4, 8, 16)
    # config/vllm.py _set_cudagraph_sizes (0.25 and 0.32): max_num_batched_tokens itself is captured when it is
    # at most the largest size, off the stride or not.
    assert default_capture_sizes(1024, 300)[-3:] == (272, 288, 300)
    # With 3 draft tokens the V1 model runner rounds every size up to a multiple of 4, dropping those past the
    # largest (config/compilation.py adjust_cudagraph_sizes_for_spec_decode).
    assert round_to_query_len((1, 2, 4, 8, 16, 24, 30), 4) == (4, 8, 16, 24)  # 32 > 30: dropped


def test_vllm_0_32_captures_up_to_1024_on_b200_and_the_widest_decode_batch() -> None:
    # 0.32 _set_cudagraph_sizes: default_max_graph_size = 1024 on compute capability 10.x, else 512; and the
    # uniform decode size max_num_seqs is captured when it fits. 0.25: 512 everywhere, no decode size.
    model, b200, h100 = get_model("llama-3.1-8b"), get_gpu("b200"), get_gpu("h100")
    new, old = vllm_behaviour("0.32.0"), vllm_behaviour("0.25.0")
    b200_config = resolve_engine_config(model, b200, EngineConfig(), new)
    assert b200_config.max_num_seqs == 1024 and b200_config.max_num_batched_tokens == 16384
    assert deployment_capture_sizes(model, b200, b200_config, new)[-1] == 1024
    assert deployment_capture_sizes(model, b200, b200_config, old)[-1] == 512
    h100_config = resolve_engine_config(model, h100, EngineConfig(), new)
    assert deployment_capture_sizes(model, h100, h100_config, new)[-1] == 512
    seats = resolve_engine_config(model, h100, EngineConfig(max_num_seqs=100), new)
    assert 100 in deployment_capture_sizes(model, h100, seats, new)
    assert 100 not in deployment_capture_sizes(model, h100, seats, old)


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
