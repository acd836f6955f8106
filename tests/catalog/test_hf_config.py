"""Reading local Hugging Face config.json files: same numbers as the catalog, clear errors for broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.catalog import get_model, model_spec_from_config
from slotune.catalog.hf_config import vision_tower_params
from slotune.errors import InputError

CONFIGS = Path(__file__).parents[1] / "data" / "configs"
ARCHITECTURE_FIELDS = {"name", "source", "total_params", "active_params", "aliases"}


@pytest.mark.parametrize(
    ("file", "catalog_id"),
    [
        ("llama-3.1-8b.json", "llama-3.1-8b"),
        ("qwen3-30b-a3b.json", "qwen3-30b-a3b"),
        ("deepseek-v3.json", "deepseek-v3"),
        ("gemma-3-27b.json", "gemma-3-27b"),
        ("gpt-oss-20b.json", "gpt-oss-20b"),
        ("llama-3.2-1b", "llama-3.2-1b"),  # a folder holding config.json
    ],
)
def test_local_config_gives_the_catalog_architecture(file: str, catalog_id: str) -> None:
    local = get_model(str(CONFIGS / file))
    catalog = get_model(catalog_id)
    assert local.model_dump(exclude=ARCHITECTURE_FIELDS) == catalog.model_dump(exclude=ARCHITECTURE_FIELDS)


def test_local_config_name_comes_from_the_file_or_folder() -> None:
    assert get_model(str(CONFIGS / "llama-3.1-8b.json")).name == "llama-3.1-8b"
    assert get_model(str(CONFIGS / "llama-3.2-1b")).name == "llama-3.2-1b"


def test_missing_key_is_named() -> None:
    with pytest.raises(InputError) as err:
        get_model(str(CONFIGS / "malformed-missing-hidden-size.json"))
    assert err.value.field == "config.json:hidden_size"
    assert "missing required key" in str(err.value)


def test_moe_without_experts_per_token_is_named() -> None:
    with pytest.raises(InputError) as err:
        get_model(str(CONFIGS / "malformed-moe-without-top-k.json"))
    assert err.value.field == "config.json:num_experts_per_tok"


def test_truncated_json_names_the_file_and_line() -> None:
    with pytest.raises(InputError) as err:
        get_model(str(CONFIGS / "malformed-truncated.json"))
    assert "not valid JSON" in str(err.value) and "line" in str(err.value)


def test_missing_file_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"config\.json"):
        get_model(str(CONFIGS / "does-not-exist.json"))


def test_layer_types_must_cover_every_layer() -> None:
    config = {
        "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "vocab_size": 100,
        "intermediate_size": 128, "max_position_embeddings": 512, "sliding_window": 32,
        "layer_types": ["sliding_attention", "full_attention"],
    }  # fmt: skip
    with pytest.raises(InputError) as err:
        model_spec_from_config(config, name="bad")
    assert err.value.field == "config.json:layer_types"


def test_defaults_follow_transformers() -> None:
    # No num_key_value_heads: multi-head attention; no head_dim: hidden / heads.
    spec = model_spec_from_config(
        {"hidden_size": 768, "num_hidden_layers": 2, "num_attention_heads": 12, "vocab_size": 1000,
         "intermediate_size": 3072, "max_position_embeddings": 1024},
        name="tiny",
    )  # fmt: skip
    assert spec.num_kv_heads == 12 and spec.head_dim == 64 and not spec.tie_word_embeddings


def test_mistral_v0_1_style_window_applies_to_every_layer() -> None:
    spec = model_spec_from_config(
        {"model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
         "num_key_value_heads": 8, "vocab_size": 32000, "intermediate_size": 14336,
         "max_position_embeddings": 32768, "sliding_window": 4096},
        name="mistral-7b-v0.1",
    )  # fmt: skip
    assert spec.sliding_window == 4096 and spec.layer_types == tuple("sliding" for _ in range(32))


def test_siglip_vision_tower_count() -> None:
    # Gemma 3's SigLIP: 27 layers x (4 x (1152^2 + 1152) + 2 x 1152 x 4304 + 4304 + 1152 + 4 x 1152) = 411,466,608
    # + patch conv 3 x 14 x 14 x 1152 + 1152 + 4096 positions x 1152 + final LayerNorm 2,304 = 416,866,032
    # + projector 1152 x 5376 + 1152 = 6,194,304
    config = {
        "text_config": {"hidden_size": 5376},
        "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                          "patch_size": 14, "image_size": 896},
    }  # fmt: skip
    assert vision_tower_params(config) == 416_866_032 + 6_194_304
