"""The page as one self-contained HTML file: jinja2 with autoescape on, so every string from a result (request
ids, errors, workload names: untrusted text from traces and logs) is escaped; figure specs go in as JSON
that cannot close its <script> element (jinja2's tojson escapes <, >, & and ')."""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slotune.report.bundle import Bundle
from slotune.report.page import Figure, Page, Section

ASSETS = Path(__file__).parent / "assets"


@dataclass(frozen=True, slots=True)
class PlacedFigure:
    id: str  # unique on the page
    filename: str  # for its PNG/SVG export
    figure: Figure


@dataclass(frozen=True, slots=True)
class PlacedSection:
    id: str
    section: Section
    figures: tuple[PlacedFigure, ...]
    verdict_class: str
    provenance_line: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "figure"


def _plot_value(value: Any) -> Any:
    """Numbers as a plot needs them: 6 significant digits (smaller page, same picture), and null for NaN and
    infinity, which JSON lacks (missing, to Vega)."""
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _plot_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plot_value(v) for v in value]
    return value


def _provenance_line(section: Section) -> str:
    wanted = ("versions", "written by", "model", "hardware", "seed", "workload digest")
    rows = dict(section.provenance)
    parts = [f"{k} {rows[k]}" for k in wanted if rows.get(k)]
    return "; ".join(parts)[:240] or f"{len(section.provenance)} entries"


def _place(index: int, section: Section) -> PlacedSection:
    sid = f"section-{index}"
    figures = tuple(
        PlacedFigure(f"{sid}-{f.key}", f"slotune-{index}-{_slug(section.kind)}-{_slug(f.key)}", f)
        for f in section.figures
    )
    tone = (
        ""
        if section.verdict is None or section.verdict.passed is None
        else ("pass" if section.verdict.passed else "fail")
    )
    return PlacedSection(sid, section, figures, tone, _provenance_line(section))


def _sortkey(value: float | str) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def render_html(page: Page, bundle: Bundle) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    env = Environment(
        loader=FileSystemLoader(ASSETS),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "allow_nan": False}
    env.filters["sortkey"] = _sortkey
    sections = [_place(i, s) for i, s in enumerate(page.sections, start=1)]
    specs = {f.id: _plot_value(f.figure.spec) for s in sections for f in s.figures}
    template = env.get_template("report.html.j2")
    return template.render(
        page=page,
        sections=sections,
        specs=specs,
        nonce=secrets.token_urlsafe(18),
        plot_library=bundle.versions,
        # The page's own files and the library's bundle: trusted code, put in as is.
        css=Markup((ASSETS / "report.css").read_text(encoding="utf-8")),
        app=Markup((ASSETS / "report.js").read_text(encoding="utf-8")),
        library=Markup(bundle.script),
    )
