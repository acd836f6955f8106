"""The rule registry: a rule is an id, a title, a layer, the evidence it needs and a check over the Evidence.

A check returns `Hit`s, what it found in the evidence; the runner turns each into a `Finding` with the rule's
id, title and layer and the sources of the evidence the hit names. `needs` is a tuple of groups: the rule runs
when every group has at least one kind present (`(("engine", "metrics"), ("requests", "model"))`: engine flags
or a scrape, and a request log or a model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from slotune.audit.evidence import Evidence
from slotune.models.audit import (
    Confidence,
    Effect,
    EvidenceKind,
    Finding,
    Fix,
    Layer,
    Location,
    RuleOutcome,
    Severity,
)

Observed = dict[str, float | int | str | bool | None]


@dataclass(frozen=True, slots=True)
class Hit:
    severity: Severity
    confidence: Confidence
    message: str
    evidence: tuple[EvidenceKind, ...]
    fixes: tuple[Fix, ...]
    observed: Observed = field(default_factory=dict)
    effect: Effect | None = None
    effect_note: str | None = None
    locations: tuple[Location, ...] = ()


Check = Callable[[Evidence], list[Hit]]


def kinds(*maybe: EvidenceKind | None) -> tuple[EvidenceKind, ...]:
    """The evidence kinds a hit used, leaving out the optional ones that were not (None)."""
    return tuple(k for k in maybe if k is not None)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    layer: Layer
    summary: str  # one line: what the rule looks for
    needs: tuple[tuple[EvidenceKind, ...], ...]
    check: Check

    @property
    def reads(self) -> frozenset[EvidenceKind]:
        return frozenset(k for group in self.needs for k in group)

    def missing(self, evidence: Evidence) -> tuple[EvidenceKind, ...]:
        """The kinds that would let the rule run: the first of each group none of whose kinds is present."""
        return tuple(group[0] for group in self.needs if not any(evidence.has(k) for k in group))


def to_finding(rule: Rule, hit: Hit, evidence: Evidence) -> Finding:
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        layer=rule.layer,
        severity=hit.severity,
        confidence=hit.confidence,
        message=hit.message,
        evidence=evidence.used(*hit.evidence),
        observed=hit.observed,
        fixes=hit.fixes,
        effect=hit.effect,
        effect_note=hit.effect_note,
        locations=hit.locations,
    )


def run_rules(evidence: Evidence, rules: Sequence[Rule]) -> tuple[list[Finding], list[RuleOutcome]]:
    """Every rule whose evidence is present, in order; the others are reported as skipped."""
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    for rule in rules:
        missing = rule.missing(evidence)
        if missing:
            outcomes.append(RuleOutcome(rule_id=rule.id, status="skipped", missing=missing))
            continue
        hits = rule.check(evidence)
        findings.extend(to_finding(rule, hit, evidence) for hit in hits)
        used = sorted({k for hit in hits for k in hit.evidence} or {k for k in rule.reads if evidence.has(k)})
        outcomes.append(
            RuleOutcome(rule_id=rule.id, status="fired" if hits else "passed", evidence=tuple(used))
        )
    return findings, outcomes
