"""Everything an audit was given, each piece optional: a rule runs when the kinds of evidence it needs are here.

Build one with `slotune.audit.gather` from files and URLs, or directly (a live watcher hands over only a
`MetricsScrape` and an SLO) and pass it to `slotune.audit.run_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from slotune.audit.engine_args import EngineArgs
from slotune.audit.estimate import Estimator
from slotune.audit.k8s import Manifests
from slotune.audit.metrics import MetricsScrape
from slotune.audit.monitoring_files import PromqlExpr, RuleFile
from slotune.audit.request_log import RequestLog
from slotune.launch.flags import ParserSpec
from slotune.models import SLO, EngineConfig, GpuSpec, ModelSpec
from slotune.models.audit import EVIDENCE_KINDS, EvidenceKind, EvidenceUsed
from slotune.models.reports import BenchReport
from slotune.vllm_metrics import CATALOGUED_VERSIONS


@dataclass(frozen=True, slots=True)
class BenchEvidence:
    source: str
    report: BenchReport


@dataclass(frozen=True)
class Evidence:
    engine: EngineArgs | None = None
    requests: RequestLog | None = None
    metrics: MetricsScrape | None = None
    bench: tuple[BenchEvidence, ...] = ()
    k8s: Manifests | None = None
    prometheus_rules: tuple[RuleFile, ...] = ()
    grafana: tuple[tuple[str, tuple[PromqlExpr, ...]], ...] = ()
    slo: SLO | None = None
    gpu: GpuSpec | None = None
    # GPUs the deployment was given per replica (--num-gpus), where known.
    num_gpus: int | None = None
    model: ModelSpec | None = None
    parser: ParserSpec | None = None
    vllm_version: str = CATALOGUED_VERSIONS[-1]
    vllm_version_source: str = "the newest vLLM slotune catalogues"
    # Where each kind came from, for findings' evidence lists (a file, a URL, a flag).
    sources: dict[EvidenceKind, str] = field(default_factory=dict)

    def has(self, kind: EvidenceKind) -> bool:
        value = {
            "engine": self.engine,
            "requests": self.requests,
            "metrics": self.metrics,
            "bench": self.bench or None,
            "k8s": self.k8s,
            "prometheus_rules": self.prometheus_rules or None,
            "grafana": self.grafana or None,
            "slo": self.slo,
            "gpu": self.gpu,
            "model": self.model,
            "vllm": self.parser,
        }[kind]
        return value is not None

    def present(self) -> tuple[EvidenceKind, ...]:
        return tuple(k for k in EVIDENCE_KINDS if self.has(k))

    def used(self, *kinds: EvidenceKind) -> tuple[EvidenceUsed, ...]:
        return tuple(EvidenceUsed(kind=k, source=self.sources.get(k, k)) for k in kinds if self.has(k))

    @property
    def engine_config(self) -> EngineConfig:
        """The engine flags given, or vLLM's defaults (EngineConfig()) when none were."""
        return self.engine.config if self.engine is not None else EngineConfig()

    @cached_property
    def estimator(self) -> Estimator:
        return Estimator(self.model, self.gpu, self.requests.sample if self.requests is not None else None)
