"""An AuditReport as text for a terminal, as Markdown (a pull-request comment, a wiki page) and as SARIF 2.1.0
(code-review tools: GitHub code scanning, VS Code's SARIF viewer). JSON is the report itself."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from slotune import __version__
from slotune.audit.estimate import describe_change
from slotune.audit.rules import RULES_BY_ID
from slotune.models.audit import AuditReport, Finding, Severity

DOCS = "docs/audit"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL: dict[Severity, str] = {"info": "note", "low": "note", "medium": "warning", "high": "error"}


def doc_path(rule_id: str) -> str:
    return f"{DOCS}/{rule_id}.md"


def _fix_lines(f: Finding) -> list[str]:
    return [fix.text for fix in f.fixes]


def _effect_line(f: Finding) -> str | None:
    if f.effect is not None:
        return f"{f.effect.summary} [{f.effect.source}" + (f": {f.effect.basis}]" if f.effect.basis else "]")
    return f"no estimate: {f.effect_note}" if f.effect_note else None


def _evidence_text(f: Finding) -> str:
    return "; ".join(f"{e.kind} ({e.source})" for e in f.evidence) or "what was not given"


def counts_line(report: AuditReport) -> str:
    by_status = Counter(o.status for o in report.rules)
    by_severity = Counter(f.severity for f in report.findings)
    severities = ", ".join(
        f"{by_severity[s]} {s}" for s in ("high", "medium", "low", "info") if by_severity[s]
    )
    return (
        f"{len(report.findings)} finding(s){f' ({severities})' if severities else ''}; rules: {by_status['fired']} fired, "
        f"{by_status['passed']} passed, {by_status['skipped']} skipped for lack of evidence"
    )


def text_lines(report: AuditReport) -> list[str]:
    """Plain lines (the CLI adds colour): each finding with its evidence, fix and estimate, then the counts."""
    lines: list[str] = []
    for f in report.findings:
        lines.append(f"[{f.severity.upper()}] {f.rule_id}: {f.title} ({f.layer}, confidence {f.confidence})")
        lines.append(f"  {f.message}")
        lines.append(f"  evidence: {_evidence_text(f)}")
        for loc in f.locations:
            lines.append(
                f"  at: {loc.file}"
                + (f":{loc.line}" if loc.line else "")
                + (f" ({loc.pointer})" if loc.pointer else "")
            )
        lines.extend(f"  fix: {text}" for text in _fix_lines(f))
        if (effect := _effect_line(f)) is not None:
            lines.append(f"  effect: {effect}")
        lines.append(f"  docs: {doc_path(f.rule_id)}")
        lines.append("")
    lines.append(counts_line(report))
    lines.append(f"judged against vLLM {report.vllm_version} ({report.vllm_version_source})")
    lines.extend(f"note: {n}" for n in report.notes)
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: AuditReport) -> str:
    out = ["# slotune audit", "", counts_line(report) + f"; judged against vLLM {report.vllm_version}.", ""]
    if report.findings:
        out += ["| severity | rule | finding | fix |", "|---|---|---|---|"]
        for f in report.findings:
            fixes = "<br>".join(_md(t) for t in _fix_lines(f))
            out.append(
                f"| {f.severity} | [{f.rule_id}]({doc_path(f.rule_id)}) | {_md(f.message)} | {fixes} |"
            )
        out.append("")
    for f in report.findings:
        out += [
            f"## {f.rule_id}: {f.title}",
            "",
            f"{f.layer} layer, severity {f.severity}, confidence {f.confidence}.",
            "",
            f.message,
            "",
        ]
        out.append(f"- Evidence: {_evidence_text(f)}")
        out += [
            f"- At: `{loc.file}`"
            + (f" line {loc.line}" if loc.line else "")
            + (f", `{loc.pointer}`" if loc.pointer else "")
            for loc in f.locations
        ]
        out += [f"- Fix: {text}" for text in _fix_lines(f)]
        if f.effect is not None:
            out.append(
                f"- Estimated effect ({f.effect.source}): "
                + "; ".join(describe_change(m) for m in f.effect.metrics)
            )
            if f.effect.basis:
                out.append(f"  (on {f.effect.basis})")
        elif f.effect_note:
            out.append(f"- No estimate: {f.effect_note}")
        out.append("")
    skipped = [o for o in report.rules if o.status == "skipped"]
    if skipped:
        out += ["## Rules not run", "", "| rule | needs |", "|---|---|"]
        out += [f"| {o.rule_id} | {', '.join(o.missing)} |" for o in skipped]
        out.append("")
    if report.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    return "\n".join(out)


def _sarif_rule(rule_id: str) -> dict[str, Any]:
    rule = RULES_BY_ID[rule_id]
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.summary},
        "help": {
            "text": f"See {doc_path(rule.id)} in slotune's documentation.",
            "markdown": f"See [{doc_path(rule.id)}]({doc_path(rule.id)}).",
        },
        "properties": {"layer": rule.layer, "tags": [rule.layer, "performance", "vllm"]},
    }


def _evidence_file(f: Finding) -> str | None:
    """A file the finding's evidence came from (a --config file, a request log), for results without a line."""
    for e in f.evidence:
        candidate = e.source.removeprefix("--config ").split(": ", 1)[0]
        if Path(candidate).is_file():
            return candidate
    return None


def _sarif_locations(f: Finding) -> list[dict[str, Any]]:
    if not f.locations and (file := _evidence_file(f)) is not None:
        return [{"physicalLocation": {"artifactLocation": {"uri": file}}}]
    locations = []
    for loc in f.locations:
        physical: dict[str, Any] = {"artifactLocation": {"uri": loc.file}}
        if loc.line:
            physical["region"] = {"startLine": loc.line}
        entry: dict[str, Any] = {"physicalLocation": physical}
        if loc.pointer:
            entry["logicalLocations"] = [{"fullyQualifiedName": loc.pointer, "kind": "member"}]
        locations.append(entry)
    return locations


def sarif(report: AuditReport) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run; every registered rule is described, findings are its results."""
    rule_ids = [o.rule_id for o in report.rules] or sorted(RULES_BY_ID)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for f in report.findings:
        text = f"{f.message}. Fix: " + "; ".join(_fix_lines(f))
        effect = _effect_line(f)
        if effect is not None:
            text += f". Estimated: {effect}"
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": text},
            "properties": {
                "severity": f.severity,
                "confidence": f.confidence,
                "layer": f.layer,
                "evidence": [e.model_dump() for e in f.evidence],
                "fixes": [fix.model_dump() for fix in f.fixes],
                "effect": f.effect.model_dump() if f.effect is not None else None,
            },
        }
        if locations := _sarif_locations(f):
            result["locations"] = locations
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "slotune audit",
                        "version": report.slotune_version or __version__,
                        "rules": [_sarif_rule(rule_id) for rule_id in rule_ids],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            {"message": {"text": n}, "level": "note"} for n in report.notes
                        ],
                    }
                ],
                "results": results,
                "properties": {
                    "vllmVersion": report.vllm_version,
                    "evidence": [e.model_dump() for e in report.evidence],
                },
            }
        ],
    }
