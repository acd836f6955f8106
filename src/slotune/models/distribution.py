"""Summary statistics of a sample (a latency metric, a token length). Percentiles are numpy's linear
interpolation. An empty sample has count 0 and no statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

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

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> Distribution:
        import numpy as np  # not at import: a model module must not cost numpy's start-up

        arr = np.asarray(values, dtype=np.float64)
        if arr.size == 0:
            return cls(count=0)
        p50, p90, p95, p99 = np.percentile(arr, [50, 90, 95, 99])
        return cls(
            count=int(arr.size),
            mean=float(arr.mean()),
            min=float(arr.min()),
            p50=float(p50),
            p90=float(p90),
            p95=float(p95),
            p99=float(p99),
            max=float(arr.max()),
        )

    def stat(self, name: str) -> float | None:
        """Look up "mean", "min", "max" or "pNN" (computing nothing new: only the stored percentiles)."""
        return getattr(self, name.replace(".", "_"), None)

    def require(self, name: str) -> float:
        """`stat(name)` of a sample known to be non-empty (a workload's lengths)."""
        value = self.stat(name)
        if value is None:
            raise ValueError(f"no {name} in a distribution of {self.count} values")
        return value
