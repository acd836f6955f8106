"""What `slotune audit` finds: one `Finding` per anti-pattern seen in a deployment's evidence, and the saved
`AuditReport` (which rules ran on which evidence, and what they found).

A finding names its rule (a stable id, with a documentation page docs/audit/<id>.md), the layer of the seed's
framework it belongs to, how bad it is (severity) and how sure the rule is (confidence), the evidence it used
with the observed facts, the exact change that fixes it, and, where slotune's planner or simulator can compute
it, the estimated effect of that change.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.reports import SavedResult

Layer = Literal["model", "software", "infrastructure", "operations"]
# Ordered: a finding "at or above" --fail-on compares by SEVERITIES.index.
Severity = Literal["info", "low", "medium", "high"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high")
Confidence = Literal["low", "medium", "high"]
# The kinds of evidence `slotune audit` reads; a rule runs when the kinds it needs are all present.
EvidenceKind = Literal[
    "engine",  # vLLM engine flags (--engine-args, --config, a manifest's container args, a bench launch)
    "requests",  # a request log or trace (--requests)
    "metrics",  # one scrape of the server's /metrics (--metrics URL or FILE)
    "bench",  # saved `slotune bench` results (--bench)
    "k8s",  # Kubernetes manifests (--k8s)
    "prometheus_rules",  # Prometheus rule files (--prometheus-rules)
    "grafana",  # Grafana dashboards (--grafana)
    "slo",  # --slo
    "gpu",  # --gpu (the catalog GPU the deployment runs on)
    "model",  # --model, or the engine's model when the catalog knows it
    "vllm",  # the installed vLLM's own argument parser (--vllm-python)
]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = (
    "engine",
    "requests",
    "metrics",
    "bench",
    "k8s",
    "prometheus_rules",
    "grafana",
    "slo",
    "gpu",
    "model",
    "vllm",
)
# flag: a vLLM engine flag; request: a field of the requests clients send; manifest: a field of a Kubernetes
# object; promql: an expression in a rule file or dashboard; bench: a `slotune bench` option; action: a change
# no single field expresses (move a deployment closer to its clients).
FixKind = Literal["flag", "request", "manifest", "promql", "bench", "action"]


class EvidenceUsed(Frozen):
    """One piece of evidence a finding rests on: its kind and where it came from (a file, a URL, a flag)."""

    kind: EvidenceKind
    source: str


class Location(Frozen):
    """Where in a file the finding points (SARIF physical location): a line, and a path inside the document."""

    file: str
    line: int | None = Field(default=None, ge=1)
    pointer: str = ""  # e.g. groups[0].rules[2].expr, spec.template.spec.containers[0].args


class Fix(Frozen):
    """The exact change: set `target` (a flag, a field, an expression) from `current` to `value`."""

    kind: FixKind
    target: str
    value: str | None = None  # None: remove the flag or field
    current: str | None = None
    text: str  # the change in words, naming the flag or field


class EffectMetric(Frozen):
    """One number before and after the fix, as the planner or simulator computed it."""

    name: str
    unit: str  # "s", "fraction", "tokens", "tokens/s", "requests", "bytes", "GPUs", "USD/Mtok"
    before: float | None
    after: float | None

    @property
    def relative_change(self) -> float | None:
        if self.before is None or self.after is None or self.before == 0:
            return None
        return (self.after - self.before) / self.before


class Effect(Frozen):
    """The estimated effect of a fix, computed (never a constant) by slotune's planner, simulator or workload
    analysis on the evidence given."""

    source: Literal["planner", "simulator", "workload"]
    summary: str
    metrics: tuple[EffectMetric, ...] = ()
    # What was computed on: the model, GPU, workload sample, load; assumptions the numbers rest on.
    basis: str = ""


class Finding(Frozen):
    rule_id: str
    title: str
    layer: Layer
    severity: Severity
    confidence: Confidence
    message: str
    evidence: tuple[EvidenceUsed, ...]
    # The facts the rule read, by name: "max_model_len": 131072, "p99 total tokens": 2310.
    observed: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    fixes: tuple[Fix, ...] = ()
    effect: Effect | None = None
    # Why no effect was estimated where the rule could have one (e.g. "give --gpu and --model").
    effect_note: str | None = None
    locations: tuple[Location, ...] = ()


RuleStatus = Literal["fired", "passed", "skipped"]


class RuleOutcome(Frozen):
    """What one rule did: fired (found something), passed (looked and found nothing), or skipped (its evidence
    was not given: `missing` names what would let it run)."""

    rule_id: str
    status: RuleStatus
    evidence: tuple[EvidenceKind, ...] = ()
    missing: tuple[EvidenceKind, ...] = ()
    note: str | None = None


class AuditReport(SavedResult):
    """`slotune audit --out`: the evidence given, every rule's outcome and every finding."""

    SCHEMA_VERSION: ClassVar[int] = 1
    kind: Literal["audit"] = "audit"
    schema_version: int = SCHEMA_VERSION
    evidence: tuple[EvidenceUsed, ...]
    findings: tuple[Finding, ...]
    rules: tuple[RuleOutcome, ...]
    # The vLLM version the engine flags and metric names were judged against, and where it came from.
    vllm_version: str = ""
    vllm_version_source: str = ""
    notes: tuple[str, ...] = ()

    def at_or_above(self, severity: Severity) -> tuple[Finding, ...]:
        floor = SEVERITIES.index(severity)
        return tuple(f for f in self.findings if SEVERITIES.index(f.severity) >= floor)
