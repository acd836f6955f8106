"""vLLM's start-up rules (slotune.vllm_rules): each test states the rule and where vLLM has it."""

from __future__ import annotations

import logging

import pytest

from slotune.catalog import get_gpu, get_model, list_gpus
from slotune.errors import InputError
from slotune.models import EngineConfig, GpuSpec, ResolvedEngineConfig
from slotune.units import GiB
from slotune.vllm_rules import batch_defaults, resolve_engine_config
from slotune.vllm_versions import vllm_behaviour

LLAMA = get_model("llama-3.1-8b")  # max_position_embeddings 131072
H100 = get_gpu("h100")


def resolve(gpu: GpuSpec = H100, **flags: object) -> ResolvedEngineConfig:
    return resolve_engine_config(LLAMA, gpu, EngineConfig.model_validate(flags))


def device(memory_gib: float, device_name: str) -> GpuSpec:
    return H100.model_copy(update={"memory_bytes": int(memory_gib * GiB), "device_name": device_name})


@pytest.mark.parametrize(
    ("gpu", "seqs", "tokens"),
    [("h100-sxm", 1024, 8192), ("h200", 1024, 8192), ("b200", 1024, 16384), ("mi300x", 1024, 16384),
     ("a100-80gb", 256, 2048), ("a100-pcie-80gb", 256, 2048), ("l40s", 256, 2048), ("l4", 256, 2048)],
)  # fmt: skip
def test_serve_defaults_by_device_class(gpu: str, seqs: int, tokens: int) -> None:
    # arg_utils.py get_batch_defaults, OPENAI_API_SERVER: >= 160 GiB -> 1024/16384; >= 70 GiB and not an A100
    # -> 1024/8192; otherwise 256/2048.
    got = resolve(get_gpu(gpu))
    assert (got.max_num_seqs, got.max_num_batched_tokens) == (seqs, tokens)


def test_vllm_0_25_has_no_160_gib_class() -> None:
    # 0.25 arg_utils.py get_batch_defaults: >= 70 GiB (not an A100) -> 1024/8192, whatever the size.
    old = vllm_behaviour("0.25.0")
    assert batch_defaults(get_gpu("b200"), old).max_num_batched_tokens == 8192
    got = resolve_engine_config(LLAMA, get_gpu("b200"), EngineConfig(), old)
    assert (got.max_num_seqs, got.max_num_batched_tokens) == (1024, 8192)


def test_the_a100_exception_reads_the_device_name_vllm_sees_not_the_catalog_id() -> None:
    assert batch_defaults(device(79.15, "NVIDIA A100-SXM4-80GB")).max_num_batched_tokens == 2048
    assert batch_defaults(device(79.15, "NVIDIA H100 80GB HBM3")).max_num_batched_tokens == 8192
    renamed = device(79.15, "NVIDIA A100-SXM4-80GB").model_copy(update={"name": "h100-lookalike"})
    assert batch_defaults(renamed).max_num_seqs == 256
    assert batch_defaults(device(69.9, "NVIDIA H100")).max_num_seqs == 256  # the 70 GiB line


def test_every_catalog_gpu_names_the_device_vllm_sees() -> None:
    for gpu in list_gpus():
        assert gpu.device_name.startswith(("NVIDIA ", "AMD ")), gpu.name


def test_max_model_len_defaults_to_the_model_and_may_not_exceed_it() -> None:
    # config/model.py _get_and_verify_max_len: the derived length unless given; a longer one is refused.
    assert resolve().max_model_len == 131072
    assert resolve(max_model_len=8192).max_model_len == 8192
    with pytest.raises(InputError, match="--max-model-len") as err:
        resolve(max_model_len=262144)
    assert err.value.field == "max_model_len" and "131072" in err.value.fix


def test_a_budget_alone_lowers_the_default_max_num_seqs_to_it() -> None:
    # arg_utils.py _set_default_max_num_seqs_and_batched_tokens_args: a default max_num_seqs becomes
    # min(default, max_num_batched_tokens).
    got = resolve(max_num_batched_tokens=512)
    assert (got.max_num_seqs, got.max_num_batched_tokens) == (512, 512)
    assert resolve(max_num_batched_tokens=4096).max_num_seqs == 1024  # above the default: unchanged


def test_a_budget_below_max_num_seqs_is_refused() -> None:
    # config/scheduler.py SchedulerConfig.verify_max_model_len: max_num_batched_tokens >= max_num_seqs.
    with pytest.raises(InputError, match="max_num_batched_tokens=16") as err:
        resolve(max_num_batched_tokens=16, max_num_seqs=1024)
    assert "--max-num-batched-tokens" in err.value.fix and "--max-num-seqs" in err.value.fix
    assert resolve(max_num_batched_tokens=1024, max_num_seqs=1024).max_num_seqs == 1024


def test_without_chunked_prefill_the_budget_holds_a_whole_prompt() -> None:
    # arg_utils.py: a default budget rises to max_model_len; scheduler.py refuses a given one below it.
    assert resolve(enable_chunked_prefill=False, max_model_len=32768).max_num_batched_tokens == 32768
    assert resolve(enable_chunked_prefill=False, max_model_len=4096).max_num_batched_tokens == 8192
    with pytest.raises(InputError, match="--enable-chunked-prefill"):
        resolve(enable_chunked_prefill=False, max_model_len=8192, max_num_batched_tokens=4096)


def test_a_default_budget_never_exceeds_max_num_seqs_times_max_model_len() -> None:
    # arg_utils.py: max_num_batched_tokens = min(max_num_seqs x max_model_len, default).
    got = resolve(max_model_len=1024, max_num_seqs=2)
    assert (got.max_num_seqs, got.max_num_batched_tokens) == (2, 2048)


def test_a_given_budget_above_seqs_times_len_is_a_warning_as_in_vllm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="slotune.vllm_rules"):
        got = resolve(max_model_len=1024, max_num_seqs=2, max_num_batched_tokens=8192)
    assert got.max_num_batched_tokens == 8192 and "exceeds max_num_seqs x max_model_len" in caplog.text


def test_mla_models_get_64_token_blocks() -> None:
    # FlashMLA / CUTLASS MLA backends need 64-token blocks; vLLM switches the default 16 to 64.
    assert resolve_engine_config(get_model("deepseek-v3"), get_gpu("h200"), EngineConfig()).block_size == 64
    assert resolve().block_size == 16


def test_resolution_happens_once() -> None:
    resolved = resolve(max_num_seqs=8)
    assert resolve_engine_config(LLAMA, get_gpu("l4"), resolved) is resolved
    assert isinstance(resolved, EngineConfig)  # usable wherever a configuration is


def test_vllm_cpu_rules() -> None:
    """vllm/platforms/cpu.py and EngineArgs.get_batch_defaults on a CPU: 128 sequences, 2,048 tokens, no async
    scheduling, 128-token blocks unless given."""
    from slotune.models import EngineConfig
    from slotune.vllm_rules import resolve_engine_config

    cpu = get_gpu("cpu-epyc-2c")
    model = get_model("llama-3.2-1b")
    resolved = resolve_engine_config(model, cpu, EngineConfig(max_model_len=2048))
    assert (resolved.max_num_seqs, resolved.max_num_batched_tokens) == (128, 2048)
    assert resolved.async_scheduling is False and resolved.block_size == 128
    assert resolve_engine_config(model, cpu, EngineConfig(max_model_len=2048, block_size=32)).block_size == 32
    assert cpu not in list_gpus() and cpu in list_gpus(include_cpus=True)
    assert not cpu.has_cuda_graphs
