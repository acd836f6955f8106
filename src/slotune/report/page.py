"""What a report page holds before it becomes HTML: sections of figures (Vega-Lite specs), tables and
provenance. Plain data; the HTML writer (render.py) escapes every string it puts on the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Spec = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: the text shown, and the value a click on the column header sorts by."""

    text: str
    sort: float | str | None = None
    tone: str = ""  # "pass" / "fail": coloured verdicts


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Figure:
    key: str  # unique within its section; the file name of its PNG/SVG export
    title: str
    spec: Spec
    note: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool | None  # None: no verdict (no SLO, or not judged)
    text: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    kind: str
    source: str  # the file(s) it was drawn from
    provenance: tuple[tuple[str, str], ...]
    verdict: Verdict | None = None
    figures: tuple[Figure, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    generated_by: str
    sections: tuple[Section, ...] = field(default_factory=tuple)
