"""Built-in hardware profiles (catalog/profiles/*.yaml) and profile files: load by name or path, write.

The planner and the simulator read the same profile; `slotune calibrate` writes new ones with `write_profile`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from slotune.catalog._schema import check_model_keys
from slotune.errors import InputError
from slotune.models.hardware_profile import PROFILE_SCHEMA_VERSION, HardwareProfile

_BUILTIN_PACKAGE = "slotune.catalog.profiles"
DEFAULT_PROFILE = "default"


def builtin_profile_names() -> list[str]:
    root = resources.files(_BUILTIN_PACKAGE)
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def _parse(data: object, where: str) -> HardwareProfile:
    if not isinstance(data, dict):
        raise InputError("profile", where, "a hardware profile is a YAML mapping; see catalog/profiles/")
    version = data.get("schema_version", PROFILE_SCHEMA_VERSION)
    if version != PROFILE_SCHEMA_VERSION:
        raise InputError(
            "profile schema_version", version, f"this slotune reads schema_version {PROFILE_SCHEMA_VERSION}"
        )
    check_model_keys(data, HardwareProfile, file=where, entry=str(data.get("name", "profile")))
    try:
        return HardwareProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"profile {loc}", first.get("input"), f"{first['msg']} (in {where})") from exc


@cache
def _builtin(name: str) -> HardwareProfile:
    text = resources.files(_BUILTIN_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text), f"built-in profile {name}")


def load_profile(name_or_path: str | Path | None = None) -> HardwareProfile:
    """A built-in profile by name ("default") or a YAML file by path."""
    if name_or_path is None:
        name_or_path = DEFAULT_PROFILE
    text_name = str(name_or_path)
    if text_name in builtin_profile_names():
        return _builtin(text_name)
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError(
            "profile",
            text_name,
            f"give a built-in profile ({', '.join(builtin_profile_names())}) or the path of a profile YAML file",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError("profile", text_name, f"the file is not valid YAML: {exc}") from exc
    return _parse(data, text_name)


def write_profile(profile: HardwareProfile, path: str | Path) -> None:
    """Write a profile as YAML (what the calibration step produces)."""
    data = profile.model_dump(mode="json")
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
