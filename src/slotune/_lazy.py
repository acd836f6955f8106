"""Package namespaces whose names are imported from their modules on first use (PEP 562).

A command that needs one model or one catalog lookup then does not pay, at start-up, for importing every
module of the package (pydantic schema building, YAML catalogs, numpy).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, homes: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: name -> its module (relative to the package), cached once read."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value  # the next lookup is a plain attribute
        return value

    return __getattr__
