"""Schema checks of the data files: a misspelt key names the file, the entry, the key and the closest valid key."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

import pytest
import yaml

from slotune.catalog import gpus, models
from slotune.catalog.hardware_profiles import load_profile
from slotune.catalog.hf_config import CONFIG_KEYS, VISION_CONFIG_KEYS
from slotune.errors import InputError


def gpu_entry(name: str) -> dict[str, object]:
    text = resources.files("slotune.catalog").joinpath("gpus.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text)[name])


def model_entry(file: str) -> dict[str, object]:
    return dict(yaml.safe_load(resources.files("slotune.catalog").joinpath("models", file).read_text()))


def test_a_misspelt_gpu_key_is_an_error_naming_file_entry_key_and_the_closest_key() -> None:
    entry = gpu_entry("h100-sxm")
    entry["mfu_prefil"] = 0.9
    with pytest.raises(InputError) as err:
        gpus.check_entry("h100-sxm", entry)
    assert err.value.field == "catalog/gpus.yaml: h100-sxm.mfu_prefil"
    assert err.value.problem == "unknown key" and "did you mean 'mfu_prefill'?" in err.value.fix


def test_a_misspelt_price_key_is_caught_too() -> None:
    entry = gpu_entry("l4")
    entry["prices"] = [{"usd_per_gpu_hr": 1.0, "provider": "x", "date": "2026-01", "source": "y"}]
    with pytest.raises(InputError, match="did you mean 'usd_per_gpu_hour'") as err:
        gpus.check_entry("l4", entry)
    assert err.value.field == "catalog/gpus.yaml: l4.prices[0].usd_per_gpu_hr"


def test_a_misspelt_model_key_is_caught_in_the_entry_and_in_its_config() -> None:
    entry = model_entry("llama-3.1-8b.yaml")
    entry["config"] = {**entry["config"], "num_key_value_head": 8}  # type: ignore[dict-item]
    with pytest.raises(InputError, match="did you mean 'num_key_value_heads'") as err:
        models.check_entry(entry, "catalog/models/llama-3.1-8b.yaml")
    assert err.value.field == "catalog/models/llama-3.1-8b.yaml: llama-3.1-8b.config.num_key_value_head"
    entry = model_entry("llama-3.1-8b.yaml") | {"publshed_total_params": 1}
    with pytest.raises(InputError, match="did you mean 'published_total_params'"):
        models.check_entry(entry, "catalog/models/llama-3.1-8b.yaml")


def test_a_misspelt_nested_text_config_key_is_caught() -> None:
    entry = model_entry("gemma-3-27b.yaml")
    config = dict(entry["config"])  # type: ignore[call-overload]
    config["text_config"] = {**config["text_config"], "slidng_window": 1024}
    with pytest.raises(InputError, match="did you mean 'sliding_window'") as err:
        models.check_entry({**entry, "config": config}, "gemma-3-27b.yaml")
    assert err.value.field.endswith("config.text_config.slidng_window")


def test_the_shipped_data_files_pass() -> None:
    for name, entry in yaml.safe_load(
        resources.files("slotune.catalog").joinpath("gpus.yaml").read_text(encoding="utf-8")
    ).items():
        gpus.check_entry(name, entry)
    for item in resources.files("slotune.catalog").joinpath("models").iterdir():
        if item.name.endswith(".yaml"):
            models.check_entry(yaml.safe_load(item.read_text(encoding="utf-8")), item.name)
    load_profile("default")


def test_a_misspelt_profile_coefficient_names_the_file_and_the_closest_key(tmp_path: Path) -> None:
    path = tmp_path / "fitted.yaml"
    path.write_text(
        "name: fitted\nversion: '2'\nprovenance: {method: calibrated}\ncoefficients: {step_cpu: 1e-4}\n"
    )
    with pytest.raises(InputError, match="did you mean 'step_cpu_s'") as err:
        load_profile(path)
    assert err.value.field == f"{path}: fitted.coefficients.step_cpu"


def _keys_read_by(source: Path) -> set[str]:
    """String keys the parser reads: config.get("key") and config["key"]."""
    keys: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            key = node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.add(key.value)
    return keys


def test_every_config_key_the_parser_reads_is_a_valid_catalog_key() -> None:
    # Otherwise a correct key in a catalog file would be refused as unknown.
    source = Path(models.__file__).with_name("hf_config.py")
    # quant_method is read inside quantization_config, whose keys are the quantizer's own and not checked.
    assert _keys_read_by(source) - {"quant_method"} <= CONFIG_KEYS | VISION_CONFIG_KEYS
