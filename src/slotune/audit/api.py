"""The one call behind `slotune audit`: gather the evidence, run every rule that has what it needs, report."""

from __future__ import annotations

from collections.abc import Sequence

from slotune.audit.evidence import Evidence
from slotune.audit.gather import AuditInputs, gather
from slotune.audit.registry import Rule, run_rules
from slotune.audit.rules import RULES
from slotune.errors import InputError
from slotune.models.audit import SEVERITIES, AuditReport
from slotune.results import stamped


def audit_evidence(
    evidence: Evidence, *, rules: Sequence[Rule] = RULES, notes: Sequence[str] = ()
) -> AuditReport:
    """Run the rules on evidence already gathered; findings most severe first, in rule order within a severity."""
    findings, outcomes = run_rules(evidence, rules)
    order = {rule.id: i for i, rule in enumerate(rules)}
    findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), order[f.rule_id]))
    return stamped(
        AuditReport(
            evidence=tuple(u for kind in evidence.present() for u in evidence.used(kind)),
            findings=tuple(findings),
            rules=tuple(outcomes),
            vllm_version=evidence.vllm_version,
            vllm_version_source=evidence.vllm_version_source,
            notes=tuple(notes),
        )
    )


def audit(inputs: AuditInputs) -> AuditReport:
    """Audit a deployment from any subset of its evidence (see AuditInputs)."""
    if inputs.num_gpus is not None and inputs.gpu is None:
        raise InputError(
            "--num-gpus", inputs.num_gpus, "give --gpu with --num-gpus (the GPU type the replica's GPUs are)"
        )
    evidence, notes = gather(inputs)
    return audit_evidence(evidence, notes=notes)
