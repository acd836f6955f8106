"""Token-length distributions for synthesis: empirical quantile tables and log-normals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

# Percentiles stored in an empirical table: every whole percentile, plus finer points in the tail.
QUANTILE_GRID: tuple[float, ...] = (*(float(q) for q in range(100)), 99.5, 99.9, 100.0)
TABLES_FILE = "preset_tables.json"


def quantile_table(values: np.ndarray | list[int]) -> list[float]:
    """The values at QUANTILE_GRID (numpy linear interpolation), rounded to 0.1 token."""
    return [round(float(v), 1) for v in np.percentile(np.asarray(values, dtype=np.float64), QUANTILE_GRID)]


@cache
def load_tables() -> dict[str, Any]:
    """Tables measured from the public traces (see build_preset_tables.py); loaded on first use."""
    text = resources.files("slotune.workload").joinpath(TABLES_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True, slots=True)
class EmpiricalLengths:
    """Inverse-CDF sampling from a quantile table, linear between the stored percentiles."""

    table: str
    column: str  # "prompt" or "output"

    def values(self) -> np.ndarray:
        return np.asarray(load_tables()[self.table][self.column], dtype=np.float64)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        u = rng.random(n) * 100.0
        drawn = np.interp(u, np.asarray(QUANTILE_GRID), self.values())
        return np.maximum(np.rint(drawn), 1).astype(np.int64)

    def describe(self) -> str:
        v = self.values()
        return f"empirical ({self.table} {self.column}: p50 {v[50]:g}, p99 {v[99]:g}, max {v[-1]:g})"


@dataclass(frozen=True, slots=True)
class LogNormalLengths:
    """Log-normal with the given median; lengths are bounded to [min_tokens, max_tokens] (a context limit)."""

    median: float
    sigma: float
    min_tokens: int = 1
    max_tokens: int = 131072

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        drawn = rng.lognormal(np.log(self.median), self.sigma, size=n)
        return np.clip(np.rint(drawn), self.min_tokens, self.max_tokens).astype(np.int64)

    def describe(self) -> str:
        return (
            f"log-normal (median {self.median:g}, sigma {self.sigma:g}, {self.min_tokens}..{self.max_tokens})"
        )


LengthDistribution = EmpiricalLengths | LogNormalLengths
