"""Table cells for numbers with units: the text shows the unit, the sort key is the plain number."""

from __future__ import annotations

from slotune.report.page import Cell

DASH = "-"


def text(value: object) -> Cell:
    return Cell(DASH if value is None or value == "" else str(value))


def ms(seconds: float | None) -> Cell:
    return Cell(DASH, None) if seconds is None else Cell(f"{seconds * 1e3:,.1f} ms", seconds)


def num(value: float | None, fmt: str = ",.2f", unit: str = "") -> Cell:
    return Cell(DASH, None) if value is None else Cell(f"{value:{fmt}}{unit}", float(value))


def pct(fraction: float | None) -> Cell:
    return Cell(DASH, None) if fraction is None else Cell(f"{fraction:.1%}", fraction)


def verdict(passed: bool | None, yes: str = "met", no: str = "not met") -> Cell:
    if passed is None:
        return Cell(DASH)
    return Cell(yes if passed else no, 1.0 if passed else 0.0, "pass" if passed else "fail")
