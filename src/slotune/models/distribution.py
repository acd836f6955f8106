"""Summary statistics of one measured quantity (a latency, a length). Percentiles: numpy's linear interpolation."""

from __future__ import annotations

from slotune.models.base import Frozen


class Distribution(Frozen):
    count: int
    mean: float | None = None
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None

    def stat(self, name: str) -> float | None:
        """Look up "mean" or "pNN" (computing nothing new: only the stored percentiles)."""
        return getattr(self, name.replace(".", "_"), None)
