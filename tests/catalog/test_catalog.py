"""The model and GPU catalogs: lookups, aliases, errors that name the choices, and the data they hold."""

from __future__ import annotations

import pytest

from slotune.catalog import get_gpu, get_model, list_gpus, list_models
from slotune.errors import InputError
from slotune.units import GiB

CONTRACT_GPU_IDS = [
    "h100-sxm", "h100-pcie", "h200", "b200", "a100-80gb", "a100-40gb", "a100-pcie-80gb",
    "l40s", "l4", "a10g", "mi300x", "rtx-4090",
]  # fmt: skip
ISSUE_MODELS = [
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.2-1b", "llama-3.2-3b", "qwen2.5-7b",
    "qwen2.5-72b", "qwen3-8b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-235b-a22b", "mistral-7b", "mixtral-8x7b",
    "deepseek-v3", "gpt-oss-20b", "gpt-oss-120b", "gemma-3-1b", "gemma-3-27b",
]  # fmt: skip


def test_every_gpu_id_of_the_contract_is_in_the_catalog() -> None:
    assert [g.name for g in list_gpus()] == CONTRACT_GPU_IDS


def test_every_model_the_issue_names_is_in_the_catalog() -> None:
    names = {m.name for m in list_models()}
    assert set(ISSUE_MODELS) <= names


@pytest.mark.parametrize("alias", ["h100", "H100", "h100-sxm", "H100-SXM"])
def test_gpu_aliases_are_case_insensitive(alias: str) -> None:
    assert get_gpu(alias).name == "h100-sxm"


@pytest.mark.parametrize(
    "alias", ["llama-3.1-8b", "LLAMA-3.1-8B", "meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct"]
)
def test_model_aliases_accept_hugging_face_ids(alias: str) -> None:
    assert get_model(alias).name == "llama-3.1-8b"


def test_unknown_gpu_lists_choices_and_suggests_the_closest() -> None:
    with pytest.raises(InputError) as err:
        get_gpu("h10")
    message = str(err.value)
    assert "gpu='h10'" in message
    assert "did you mean" in message and "h100-sxm" in message
    assert "rtx-4090" in message  # the full list of choices


def test_unknown_model_lists_choices_and_suggests_the_closest() -> None:
    with pytest.raises(InputError) as err:
        get_model("llama-3.1-9b")
    message = str(err.value)
    assert "did you mean" in message and "'llama-3.1-8b'" in message
    assert "config.json" in message


def test_h100_memory_is_driver_reported_gib_not_marketing_gb() -> None:
    gpu = get_gpu("h100")
    assert gpu.marketing_memory_gb == 80
    assert 79.0 * GiB < gpu.memory_bytes < 79.7 * GiB
    assert gpu.memory_source


def test_gpu_facts_match_the_datasheet_table() -> None:
    h100 = get_gpu("h100-sxm")
    assert h100.hbm_bytes_per_s == pytest.approx(3.35e12)
    assert h100.flops_per_s["bf16"] == pytest.approx(989e12)
    assert h100.flops_per_s["fp8"] == pytest.approx(1979e12)
    assert h100.intra_node_bytes_per_s == pytest.approx(450e9)  # NVLink4 900 GB/s bidirectional
    a100 = get_gpu("a100-80gb")
    assert "fp8" not in a100.flops_per_s  # no FP8 tensor cores
    assert get_gpu("b200").flops_per_s["fp4"] == pytest.approx(9000e12)


def test_every_price_is_dated_and_sourced() -> None:
    for gpu in list_gpus():
        for price in gpu.prices:
            assert len(price.date) == 7 and price.date[4] == "-", (gpu.name, price)
            assert price.source and price.provider
    assert get_gpu("a100-40gb").prices == ()  # no dated price in the source table: none invented


def test_catalog_model_architecture_facts() -> None:
    llama = get_model("llama-3.1-8b")
    assert (llama.num_layers, llama.num_kv_heads, llama.head_dim, llama.tie_word_embeddings) == (
        32,
        8,
        128,
        False,
    )
    assert get_model("llama-3.2-1b").tie_word_embeddings
    ds = get_model("deepseek-v3")
    assert ds.mla is not None and ds.mla.kv_lora_rank == 512 and ds.mla.qk_rope_head_dim == 64
    assert ds.moe is not None and ds.moe.first_k_dense_layers == 3 and ds.checkpoint_quantization == "fp8"
    oss = get_model("gpt-oss-120b")
    assert oss.checkpoint_quantization == "mxfp4" and oss.sliding_window == 128
    assert oss.layer_types is not None and oss.layer_types.count("sliding") == 18
    gemma = get_model("gemma-3-27b")
    assert gemma.layer_types is not None and gemma.layer_types.count("full") == 10  # 5 local : 1 global
    assert gemma.extra_params > 0  # the SigLIP vision tower
    assert get_model("qwen2.5-7b").sliding_window is None  # use_sliding_window: false
