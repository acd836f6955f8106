"""Schema checks for the data files (GPU and model catalog, hardware profiles): a misspelt key is an error that
names the file, the entry, the key and the closest valid key, never a silently ignored value."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping

from pydantic import BaseModel

from slotune.errors import InputError


def closest_key(key: str, valid: Collection[str]) -> str:
    """The valid key nearest to `key` (by difflib's ratio; there is always one)."""
    ranked = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.0)
    return ranked[0] if ranked else sorted(valid)[0]


def check_keys(data: Mapping[object, object], valid: Collection[str], *, file: str, entry: str) -> None:
    """Raise InputError for the first key of `data` that is not in `valid`."""
    for key in data:
        if key not in valid:
            near = closest_key(str(key), valid)
            raise InputError(
                f"{file}: {entry}.{key}",
                data[key],
                f"did you mean '{near}'? Valid keys: {', '.join(sorted(valid))}",
                problem="unknown key",
            )


def check_model_keys(data: object, model: type[BaseModel], *, file: str, entry: str) -> None:
    """check_keys against a pydantic model's fields, descending into fields that are models themselves."""
    if not isinstance(data, Mapping):
        return
    check_keys(data, model.model_fields, file=file, entry=entry)
    for name, field in model.model_fields.items():
        sub = field.annotation
        if name in data and isinstance(sub, type) and issubclass(sub, BaseModel):
            check_model_keys(data[name], sub, file=file, entry=f"{entry}.{name}")
