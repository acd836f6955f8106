"""The model catalog (one YAML per model under catalog/models/) and local Hugging Face config.json files."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from slotune.catalog._names import normalize, unknown_name_fix
from slotune.catalog._schema import check_keys
from slotune.catalog.hf_config import CONFIG_KEYS, VISION_CONFIG_KEYS, model_spec_from_config
from slotune.errors import InputError
from slotune.models import ModelSpec

ENTRY_KEYS = frozenset(
    {"name", "aliases", "published_total_params", "published_active_params", "source", "config"}
)


def check_entry(entry: object, file: str) -> None:
    """Refuse a catalog file with a misspelt key (InputError naming the file, the entry and the closest key)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise InputError(
            file, entry, "give a mapping with name, source and config (see the other catalog files)"
        )
    name = str(entry.get("name", file))
    check_keys(entry, ENTRY_KEYS, file=file, entry=name)
    config = entry["config"]
    check_keys(config, CONFIG_KEYS, file=file, entry=f"{name}.config")
    for nested, valid in (("text_config", CONFIG_KEYS), ("vision_config", VISION_CONFIG_KEYS)):
        if isinstance(config.get(nested), dict):
            check_keys(config[nested], valid, file=file, entry=f"{name}.config.{nested}")


def _spec_from_catalog_entry(entry: dict[str, Any]) -> ModelSpec:
    return model_spec_from_config(
        entry["config"],
        name=str(entry["name"]),
        source=str(entry.get("source", "")),
        total_params=entry.get("published_total_params"),
        active_params=entry.get("published_active_params"),
        aliases=tuple(str(a) for a in entry.get("aliases", ())),
    )


@cache
def _catalog() -> dict[str, ModelSpec]:
    folder = resources.files("slotune.catalog").joinpath("models")
    specs: dict[str, ModelSpec] = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith((".yaml", ".yml")):
            entry = yaml.safe_load(item.read_text(encoding="utf-8"))
            check_entry(entry, f"catalog/models/{item.name}")
            spec = _spec_from_catalog_entry(entry)
            specs[spec.name] = spec
    return specs


@cache
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name, spec in _catalog().items():
        index[normalize(name)] = name
        for alias in spec.aliases:
            index[normalize(alias)] = name
    return index


def list_models() -> list[ModelSpec]:
    """Every model in the built-in catalog, sorted by id."""
    return list(_catalog().values())


def load_config_json(path: Path) -> ModelSpec:
    """A ModelSpec from a Hugging Face config.json file, or a folder holding one."""
    try:
        file = path / "config.json" if path.is_dir() else path
        found = file.is_file()
    except OSError as exc:  # a name the file system refuses (too long)
        raise InputError("model", str(path), "give a config.json file or a folder that holds one") from exc
    if not found:
        raise InputError("model", str(path), "give a config.json file or a folder that holds one")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            "model",
            str(file),
            "fix the JSON syntax of the file",
            problem=f"not valid JSON ({exc.msg} at line {exc.lineno})",
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            "model", str(file), "give a UTF-8 text config.json", problem="not a text file"
        ) from exc
    default_name = file.parent.name if file.name == "config.json" else file.stem
    name = str(config.get("_name_or_path") or default_name) if isinstance(config, dict) else default_name
    return model_spec_from_config(config, name=name, source=str(file))


def _looks_like_path(text: str) -> bool:
    if text.endswith(".json") or text.startswith((".", "/", "~")):
        return True
    try:
        return Path(text).exists()
    except OSError:  # a name the file system refuses (too long) is no path
        return False


def get_model(name_or_path: str) -> ModelSpec:
    """A model by catalog id or alias (case-insensitive, HF ids accepted), or a path to a config.json / its folder."""
    key = _index().get(normalize(name_or_path))
    if key is not None:
        return _catalog()[key]
    if _looks_like_path(name_or_path):
        return load_config_json(Path(name_or_path).expanduser())
    choices = list(_catalog())
    raise InputError(
        "model",
        name_or_path,
        unknown_name_fix(
            name_or_path, choices, _index(), "catalog models", ", or a path to a Hugging Face config.json"
        ),
    )
