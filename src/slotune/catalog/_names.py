"""Name matching shared by the model and GPU catalogs: case-insensitive ids and aliases, closest-name hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def closest(name: str, choices: Iterable[str]) -> list[str]:
    lowered = {normalize(c): c for c in choices}
    hits = difflib.get_close_matches(normalize(name), list(lowered), n=3, cutoff=0.5)
    return [lowered[h] for h in hits]


def unknown_name_fix(name: str, choices: list[str], kind: str, extra: str = "") -> str:
    close = closest(name, choices)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{hint}use one of the {kind}: {', '.join(choices)}{extra}"
