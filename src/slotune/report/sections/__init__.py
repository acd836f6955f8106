"""One module per kind of saved result, registered here by the result's `kind`. A new kind (plan, tune,
validate, audit) is one module with `section(item) -> Section` and one line in SECTIONS."""

from __future__ import annotations

from collections.abc import Callable

from slotune.report.inputs import Loaded
from slotune.report.page import Section
from slotune.report.provenance import report_provenance
from slotune.report.sections import audit, compare, run, sweep, tune, validate, workload

SectionBuilder = Callable[[Loaded], Section]

SECTIONS: dict[str, SectionBuilder] = {
    "simulate": run.section,
    "bench": run.section,
    "sweep": sweep.section,
    "workload": workload.section,
    "tune": tune.section,
    "validate": validate.section,
    "audit": audit.section,
}
RUN_KINDS = ("simulate", "bench")
# Kinds other work is still shaping; their results load but get only their provenance (docs/report.md).
NOT_YET_DRAWN = ("plan",)


def not_drawn(item: Loaded) -> Section:
    """A loadable result that has no section yet: say so, with its provenance, rather than drop it."""
    kind = item.report.kind
    return Section(
        title=f"{kind} result",
        kind=kind,
        source=item.label,
        provenance=tuple(report_provenance(item.report, item.label)),
        notes=(f"This slotune does not draw '{kind}' results yet (drawn: {', '.join(sorted(SECTIONS))}).",),
    )


def sections_for(items: list[Loaded]) -> list[Section]:
    """A comparison first when there are several runs, then one section per result, in the order given."""
    runs = [i for i in items if i.report.kind in RUN_KINDS]
    out = [compare.section(runs)] if len(runs) > 1 else []
    out += [SECTIONS.get(i.report.kind, not_drawn)(i) for i in items]
    return out
