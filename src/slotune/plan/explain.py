"""Human-readable values and the `--explain` listing of a plan's derivations (formula and inputs per number)."""

from __future__ import annotations

from slotune.models import CapacityPlan, Derivation
from slotune.units import GiB


def format_value(value: float, unit: str) -> str:
    """A number in the unit people read it in: bytes as GiB (and exact bytes), seconds as ms."""
    if unit == "bytes":
        if abs(value) >= 0.01 * GiB:
            return f"{value / GiB:,.2f} GiB ({value:,.0f} B)"
        return f"{value:,.0f} B"
    if unit == "s":
        return f"{value * 1e3:,.2f} ms"
    if unit == "params":
        return f"{value / 1e9:,.3f} B ({value:,.0f})"
    if unit in ("tokens", "blocks", "GPUs", "sequences"):
        return f"{value:,.0f} {unit}"
    if unit == "USD/Mtok":
        return f"${value:,.4f}/Mtok"
    if unit == "tok/s":
        return f"{value:,.0f} tok/s"
    return f"{value:,.4g} {unit}"


def format_inputs(derivation: Derivation) -> str:
    parts = []
    for key, val in derivation.inputs.items():
        if isinstance(val, float):
            parts.append(f"{key}={val:.6g}")
        elif isinstance(val, int):
            parts.append(f"{key}={val:,}")
        else:
            parts.append(f"{key}={val}")
    return ", ".join(parts)


def explain_lines(plan: CapacityPlan) -> list[tuple[str, str, str, str]]:
    """(name, value, formula, inputs) for every derivation, in the order they were computed."""
    return [(d.name, format_value(d.value, d.unit), d.formula, format_inputs(d)) for d in plan.derivations]
