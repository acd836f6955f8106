"""CLI for `slotune watch` (placeholder until the watch package lands in this branch)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""
