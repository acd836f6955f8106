"""Every audit rule, one module per layer of the seed's framework; `RULES` in the order reports list them.

Rules are importable by the evidence they read (`rules_for("metrics")`), so a live watcher or the monitoring
generator can run the ones that apply to what it has.
"""

from __future__ import annotations

from slotune.audit.registry import Rule
from slotune.audit.rules import engine, flying_blind, infrastructure, model, monitoring, operations, prompts
from slotune.models.audit import EvidenceKind

RULES: tuple[Rule, ...] = (
    *model.RULES,
    *engine.RULES,
    *prompts.RULES,
    *infrastructure.RULES,
    *operations.RULES,
    *monitoring.RULES,
    *flying_blind.RULES,
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def rules_for(kind: EvidenceKind) -> tuple[Rule, ...]:
    """The rules that read this kind of evidence (whatever else they may also read)."""
    return tuple(rule for rule in RULES if kind in rule.reads)
