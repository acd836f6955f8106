"""`slotune report`: one self-contained HTML file (no network fetches; Vega-Lite bundled once) drawn from
saved results: runs (simulate, bench) with their CDFs, timelines and SLO verdict, sweeps, workload profiles,
and a side-by-side comparison when several runs are given. See docs/report.md.

Public API: `build_report(paths, out) -> ReportBuild`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from slotune import __version__
from slotune.errors import InputError
from slotune.files import write_atomically
from slotune.report.bundle import vega_bundle
from slotune.report.inputs import load_inputs
from slotune.report.page import Page
from slotune.report.render import render_html
from slotune.report.sections import sections_for

__all__ = ["ReportBuild", "build_report"]


@dataclass(frozen=True, slots=True)
class ReportBuild:
    path: Path
    size_bytes: int
    num_sections: int
    num_figures: int
    build_s: float
    bundle_cached: bool


def _title(kinds: list[str]) -> str:
    if len(kinds) == 1:
        return f"slotune report: {kinds[0]}"
    return f"slotune report: {len(kinds)} results ({', '.join(sorted(set(kinds)))})"


def build_report(paths: list[str | os.PathLike[str]], out: str | os.PathLike[str]) -> ReportBuild:
    """Load the results at `paths`, draw them, and write the HTML file `out`."""
    start = time.perf_counter()
    target = Path(out)
    if target.is_dir():
        raise InputError("-o/--out", str(target), "give a file name, e.g. -o report.html")
    items = load_inputs(list(paths))
    sections = sections_for(items)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    page = Page(
        title=_title([i.report.kind for i in items]),
        generated_by=f"slotune {__version__}, {created}, from {len(items)} result file{'s' if len(items) > 1 else ''}",
        sections=tuple(sections),
    )
    bundle = vega_bundle()
    html = render_html(page, bundle)
    write_atomically(target, html)
    return ReportBuild(
        path=target,
        size_bytes=len(html.encode("utf-8")),
        num_sections=len(sections),
        num_figures=sum(len(s.figures) for s in sections),
        build_s=time.perf_counter() - start,
        bundle_cached=bundle.cached,
    )
