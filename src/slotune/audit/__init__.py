"""`slotune audit`: the seed's anti-pattern checklist (section 4) as rules over a deployment's evidence.

Evidence: engine flags, a request log, a `/metrics` scrape, benchmark results, Kubernetes manifests, Prometheus
rules, Grafana dashboards, an SLO, the GPU and the model; any subset. Each rule (slotune.audit.rules, one module
per layer) runs when its evidence is present and returns findings with the evidence used, the exact fix and,
where the planner or simulator can compute it, the estimated effect. docs/audit/<rule id>.md documents each.
"""

from slotune.audit.api import audit, audit_evidence
from slotune.audit.evidence import BenchEvidence, Evidence
from slotune.audit.gather import AuditInputs, gather
from slotune.audit.registry import Hit, Rule, run_rules
from slotune.audit.rules import RULES, RULES_BY_ID, rules_for

__all__ = [
    "RULES",
    "RULES_BY_ID",
    "AuditInputs",
    "BenchEvidence",
    "Evidence",
    "Hit",
    "Rule",
    "audit",
    "audit_evidence",
    "gather",
    "rules_for",
    "run_rules",
]
