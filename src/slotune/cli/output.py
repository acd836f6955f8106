"""Rendering helpers shared by every command: JSON to stdout, rich tables and errors to the console."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def to_jsonable(obj: Any) -> Any:
    model_dump = getattr(obj, "model_dump", None)  # a pydantic model (not imported here: start-up time)
    if callable(model_dump) and not isinstance(obj, type):
        return model_dump(mode="json")
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Print machine-readable output on stdout, nothing else."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()
