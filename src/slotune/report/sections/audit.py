"""An audit (`slotune audit --out`): the findings with their fixes and estimated effects, and which rules ran on
which evidence (and which could not run for lack of it)."""

from __future__ import annotations

from collections import Counter

import slotune.report.cells as cells
from slotune.audit.estimate import describe_change
from slotune.models.audit import SEVERITIES, AuditReport, Finding
from slotune.report.inputs import Loaded
from slotune.report.page import Cell, Section, Table, Verdict
from slotune.report.provenance import report_provenance


def _severity(f: Finding) -> Cell:
    return Cell(
        f.severity, float(SEVERITIES.index(f.severity)), "fail" if f.severity in ("medium", "high") else ""
    )


def _effect(f: Finding) -> str:
    if f.effect is not None:
        return f"{f.effect.source}: " + "; ".join(describe_change(m) for m in f.effect.metrics)
    return f"no estimate: {f.effect_note}" if f.effect_note else ""


def _findings_table(report: AuditReport) -> Table:
    rows = tuple(
        (
            _severity(f),
            cells.text(f.rule_id),
            cells.text(f.layer),
            cells.text(f.message),
            cells.text(" / ".join(fix.text for fix in f.fixes)),
            cells.text(_effect(f)),
            cells.text(", ".join(e.kind for e in f.evidence)),
        )
        for f in report.findings
    )
    note = "Each rule's page: docs/audit/<rule>.md. Effects are the planner's or simulator's, on the evidence named."
    return Table(
        "Findings",
        ("severity", "rule", "layer", "finding", "fix", "estimated effect", "evidence"),
        rows,
        note,
    )


def _rules_table(report: AuditReport) -> Table:
    rows = tuple(
        (
            cells.text(o.rule_id),
            Cell(o.status, None, "fail" if o.status == "fired" else "pass" if o.status == "passed" else ""),
            cells.text(", ".join(o.evidence) or "-"),
            cells.text(", ".join(o.missing) or "-"),
        )
        for o in report.rules
    )
    return Table("Rules", ("rule", "outcome", "evidence read", "missing evidence"), rows)


def section(item: Loaded) -> Section:
    report = item.report
    assert isinstance(report, AuditReport)
    by_severity = Counter(f.severity for f in report.findings)
    counts = ", ".join(f"{by_severity[s]} {s}" for s in reversed(SEVERITIES) if by_severity[s])
    clean = not report.at_or_above("low")
    verdict = Verdict(
        clean, "no findings" if not report.findings else f"{len(report.findings)} finding(s): {counts}"
    )
    extra = [
        ("vLLM judged against", f"{report.vllm_version} ({report.vllm_version_source})"),
        ("evidence", "; ".join(f"{e.kind}: {e.source}" for e in report.evidence) or "none"),
    ]
    return Section(
        title="Audit",
        kind="audit",
        source=item.label,
        provenance=tuple(report_provenance(report, item.label, extra)),
        verdict=verdict,
        tables=(_findings_table(report), _rules_table(report)),
        notes=report.notes,
    )
