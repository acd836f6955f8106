"""Name matching shared by the model and GPU catalogs: case-insensitive ids and aliases, closest-name hints."""

from __future__ import annotations

import difflib


def normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def closest(name: str, index: dict[str, str]) -> list[str]:
    """Catalog ids whose id or alias (keys of `index`, normalized) is closest to `name`, best first."""
    hits = difflib.get_close_matches(normalize(name), list(index), n=6, cutoff=0.5)
    return list(dict.fromkeys(index[h] for h in hits))[:3]


def unknown_name_fix(name: str, choices: list[str], index: dict[str, str], kind: str, extra: str = "") -> str:
    close = closest(name, index)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{hint}use one of the {kind}: {', '.join(choices)}{extra}"
