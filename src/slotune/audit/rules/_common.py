"""Helpers the rule modules share: fixes for flags, effects that could not be computed, the shape of a task."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slotune.audit.estimate import Estimator
from slotune.audit.request_log import RequestColumns
from slotune.models import CapacityPlan, EngineConfig
from slotune.models.audit import Effect, Fix

# Outputs this short and this alike are a classification or extraction task (labels, small JSON objects).
SHORT_OUTPUT_P90_TOKENS = 64
FIXED_OUTPUT_SPREAD = 4.0  # p90 / p10 of output lengths
MIN_REQUESTS_FOR_SHAPE = 10


def flag_fix(flag: str, value: str | None, current: str | None, text: str) -> Fix:
    return Fix(kind="flag", target=flag, value=value, current=current, text=text)


def round_up(value: float, step: int) -> int:
    return max(step, math.ceil(value / step) * step)


@dataclass(frozen=True, slots=True)
class TaskShape:
    """What the measured output lengths say about the task."""

    num_measured: int
    output_p10: float
    output_p50: float
    output_p90: float

    @property
    def is_short_and_fixed(self) -> bool:
        return (
            self.num_measured >= MIN_REQUESTS_FOR_SHAPE
            and self.output_p90 <= SHORT_OUTPUT_P90_TOKENS
            and self.output_p90 <= FIXED_OUTPUT_SPREAD * max(1.0, self.output_p10)
        )

    def describe(self) -> str:
        return (
            f"outputs of {self.output_p10:.0f}-{self.output_p90:.0f} tokens (p10-p90) over "
            f"{self.num_measured:,} requests"
        )


def task_shape(columns: RequestColumns) -> TaskShape | None:
    measured = columns.measured_output
    if measured.size == 0:
        return None
    p10, p50, p90 = np.percentile(measured, [10, 50, 90])
    return TaskShape(int(measured.size), float(p10), float(p50), float(p90))


def plans(
    estimator: Estimator, before: EngineConfig, after: EngineConfig, **kwargs: object
) -> tuple[CapacityPlan, CapacityPlan] | str:
    """The planner's two plans, or why there are none."""
    first = estimator.plan(before, **kwargs)  # type: ignore[arg-type]
    second = estimator.plan(after, **kwargs)  # type: ignore[arg-type]
    if isinstance(first, str):
        return first
    if isinstance(second, str):
        return second
    return first, second


def split_effect(result: Effect | str | None) -> tuple[Effect | None, str | None]:
    """(effect, None) or (None, why there is none)."""
    if result is None or isinstance(result, Effect):
        return result, None
    return None, result
