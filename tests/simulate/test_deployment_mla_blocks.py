from slotune.catalog import get_gpu, get_model
from slotune.models import EngineConfig
from slotune.plan import plan_capacity
from slotune.simulate.deployment import build_deployment


def test_mla_model_uses_the_planners_64_token_blocks():
    model, gpu = get_model("deepseek-v3"), get_gpu("h200")
    config = EngineConfig(tensor_parallel_size=8, max_model_len=16384)
    deployment = build_deployment(model, gpu, config)
    plan = plan_capacity(model, gpu, config)
    assert plan.kv.block_size == 64
    assert deployment.config.block_size == 64
    # Same KV pool in tokens as the planner: blocks of the same size, same count.
    assert deployment.num_gpu_blocks == plan.kv.capacity_blocks
