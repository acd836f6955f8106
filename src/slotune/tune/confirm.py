"""Confirmation on the real engine: the simulator's best configurations measured again, with repeats, where
it counts. Where the simulated and measured capacities differ by more than the profile's validated error,
the report says so and the measurement decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slotune.models.tune import Confirmation, TunePoint
from slotune.tune.evaluate import Evaluator
from slotune.tune.search import OnPoint, Runs

# The error allowed between simulated and measured capacity when the profile records none: the default
# profile's coefficients are published figures and estimates, not fitted (docs/tuning.md).
UNVALIDATED_ERROR = 0.25


def validated_error(profile: Any) -> float:
    """The profile's validated relative error where it records one (a calibrated profile), else 25%."""
    value = getattr(profile, "validated_error", None)
    return float(value) if isinstance(value, int | float) and value > 0 else UNVALIDATED_ERROR


def _capacity(point: TunePoint) -> float:
    return point.capacity.max_rate_rps if point.capacity is not None else 0.0


def compare(predicted: TunePoint, measured: TunePoint, allowed: float) -> Confirmation:
    sim, real = _capacity(predicted), _capacity(measured)
    error = abs(sim - real) / real if real > 0 else None
    disagrees = (error is not None and error > allowed) or (real == 0 and sim > 0)
    note = f"simulated {sim:.3g} req/s, measured {real:.3g} req/s"
    if error is not None:
        note += f" ({error:.0%} apart; validated error {allowed:.0%})"
    if disagrees:
        note += ": the simulation disagrees beyond the profile's validated error; the measurement is trusted"
    return Confirmation(
        point=measured,
        predicted=predicted,
        capacity_error=error,
        allowed_error=allowed,
        disagrees=disagrees,
        note=note,
    )


def confirm(
    runs: Runs,
    real: Evaluator,
    predicted: Sequence[TunePoint],
    allowed: float,
    on_point: OnPoint | None = None,
) -> list[Confirmation]:
    """Each predicted point measured on the real engine (starting its capacity search at the prediction)."""
    out = []
    for point in predicted:
        role = "confirm" if point.role == "search" else point.role
        start = _capacity(point) or None
        measured = runs.evaluate(real, point.params, role, on_point=on_point, start_rps=start)
        out.append(compare(point, measured, allowed))
    return out
