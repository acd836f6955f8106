"""A number with the formula and inputs it came from, built by the function that computes it.

Each planning formula has a `derive_*` companion next to it that returns its value together with a Derivation
whose text is written from the same constants, so `--explain` follows any change to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from slotune.models import Derivation
from slotune.units import GiB

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Derived(Generic[T]):
    value: T
    derivation: Derivation


def derived(name: str, value: T, unit: str, formula: str, **inputs: float | int | str) -> Derived[T]:
    number = float(value) if isinstance(value, int | float) else 0.0
    return Derived(value, Derivation(name=name, value=number, unit=unit, formula=formula, inputs=inputs))


def gib_text(num_bytes: float) -> str:
    """A byte constant as the formulas print it: 0.25 GiB."""
    return f"{num_bytes / GiB:g} GiB"


@dataclass(slots=True)
class Explain:
    """Collects the derivations of a plan in the order its numbers are computed."""

    items: list[Derivation] = field(default_factory=list)

    def take(self, result: Derived[T]) -> T:
        self.items.append(result.derivation)
        return result.value
