"""Prometheus recording rules and alerts for one deployment, from its SLO and the target vLLM's catalogue.

Per SLO latency term (`ttft:p99<200ms`: 99% of requests within 200 ms, a 1% error budget):
  slotune:vllm_slo_errors:ratio_rate<w>            share of events over the threshold in window w
  slotune:vllm_slo_latency_seconds:quantile_rate5m the term's percentile from rate() of the buckets
  slotune:vllm_slo_latency_seconds:mean_rate5m     for a `mean` term
and the multi-window burn-rate alerts of the SRE workbook (terms.BURN_WINDOWS). Idle pools are safe: a ratio
is divided by `(rate(count) > 0)`, so with no traffic there is no sample, not a division by zero or a false
100% error ratio; `absent()` tells a missing target from an idle one. Beside the SLO: preemptions, a full KV
cache with a queue, admission rejections (where the vLLM version counts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from slotune.deploy.monitoring.advice import Condition, advice_for
from slotune.deploy.monitoring.series import (
    ADMISSION_REJECTIONS,
    counter,
    gauge,
    has_family,
    selector,
)
from slotune.deploy.monitoring.terms import (
    BURN_WINDOWS,
    ERROR_RATIO_WINDOWS,
    QUANTILE_WINDOW,
    BurnWindow,
    Term,
    reachable,
    terms,
)
from slotune.models.deploy import Deployment
from slotune.vllm_metrics import find_problems
from slotune.vllm_metrics import names as vllm_names

ERROR_RATIO = "slotune:vllm_slo_errors:ratio_rate"
QUANTILE = f"slotune:vllm_slo_latency_seconds:quantile_rate{QUANTILE_WINDOW}"
MEAN = f"slotune:vllm_slo_latency_seconds:mean_rate{QUANTILE_WINDOW}"
# A replica's KV cache this full, with requests waiting, cannot admit them.
KV_SATURATED = 0.9
AlertKind = Literal["burn", "mean", "preemptions", "kv_saturated", "admission_rejections", "target_missing"]


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str
    expr: str
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    kind: AlertKind
    condition: Condition
    expr: str
    for_: str
    severity: str
    summary: str
    term: Term | None = None
    window: BurnWindow | None = None
    # The threshold the expression compares against (error ratio, seconds, KV share).
    threshold: float | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def annotations(self) -> dict[str, str]:
        advice = advice_for(self.condition)
        return {"summary": self.summary, "flag": advice.flag, "action": advice.action}


@dataclass(frozen=True, slots=True)
class RuleSet:
    deployment: Deployment
    recording: tuple[RecordingRule, ...]
    alerts: tuple[AlertRule, ...]

    @property
    def match(self) -> dict[str, str]:
        """The label matchers that select this deployment's vLLM series."""
        return {"model_name": self.deployment.served_model_name}

    def expressions(self) -> list[str]:
        return [r.expr for r in self.recording] + [a.expr for a in self.alerts]

    def to_yaml(self) -> dict[str, Any]:
        name = self.deployment.name
        return {
            "groups": [
                {
                    "name": f"slotune-{name}-slo",
                    "rules": [
                        {"record": r.record, "expr": r.expr, "labels": r.labels} for r in self.recording
                    ],
                },
                {"name": f"slotune-{name}-alerts", "rules": [_alert_yaml(a) for a in self.alerts]},
            ]
        }


def _alert_yaml(alert: AlertRule) -> dict[str, Any]:
    return {
        "alert": alert.name,
        "expr": alert.expr,
        "for": alert.for_,
        "labels": {"severity": alert.severity, **alert.labels},
        "annotations": alert.annotations(),
    }


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class _Builder:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.version = deployment.vllm_version
        self.match = {"model_name": deployment.served_model_name}
        self.sel = selector(self.match)
        self.model = deployment.served_model_name

    def term_labels(self, term: Term) -> dict[str, str]:
        return {"deployment": self.deployment.name, "slo_term": term.key}

    def recorded(self, record: str, term: Term, **extra: str) -> str:
        return record + selector({**self.term_labels(term), **extra})

    def rate_sum(self, series: str, window: str, by: str = "model_name", **extra: str) -> str:
        return f"sum by ({by}) (rate({series}{selector(self.match, **extra)}[{window}]))"

    def error_ratio(self, term: Term, window: str) -> RecordingRule:
        total = self.rate_sum(term.count, window)
        good = self.rate_sum(term.bucket, window, le=term.le)
        return RecordingRule(
            record=ERROR_RATIO + window,
            expr=f"({total} - {good}) / ({total} > 0)",
            labels=self.term_labels(term),
        )

    def quantile(self, term: Term) -> RecordingRule:
        objective = term.objective
        assert objective is not None
        buckets = self.rate_sum(term.bucket, QUANTILE_WINDOW, by="le, model_name")
        busy = f"({self.rate_sum(term.count, QUANTILE_WINDOW)} > 0)"
        return RecordingRule(
            record=QUANTILE,
            expr=f"histogram_quantile({_fmt(objective)}, {buckets}) and on (model_name) {busy}",
            labels={**self.term_labels(term), "quantile": _fmt(objective)},
        )

    def mean(self, term: Term) -> RecordingRule:
        total = self.rate_sum(term.count, QUANTILE_WINDOW)
        return RecordingRule(
            record=MEAN,
            expr=f"{self.rate_sum(term.sum, QUANTILE_WINDOW)} / ({total} > 0)",
            labels=self.term_labels(term),
        )

    def burn(self, term: Term, window: BurnWindow) -> AlertRule:
        budget = term.budget
        assert budget is not None
        threshold = window.factor * budget
        long = self.recorded(ERROR_RATIO + window.long, term)
        short = self.recorded(ERROR_RATIO + window.short, term)
        return AlertRule(
            name=term.alert_prefix + window.name,
            kind="burn",
            condition=term.target.metric,  # type: ignore[arg-type]
            expr=f"{long} > {_fmt(threshold)} and {short} > {_fmt(threshold)}",
            for_=window.for_,
            severity=window.severity,
            summary=(
                f"{term.title} of {self.model} ({term.expression}) burns its {budget:.3g} error budget "
                f"{window.factor:g}x too fast ({window.long} and {window.short} windows)"
            ),
            term=term,
            window=window,
            threshold=threshold,
            labels={"window": window.long},
        )

    def mean_alert(self, term: Term) -> AlertRule:
        threshold = term.target.threshold
        return AlertRule(
            name=term.alert_prefix + "High",
            kind="mean",
            condition=term.target.metric,  # type: ignore[arg-type]
            expr=f"{self.recorded(MEAN, term)} > {_fmt(threshold)}",
            for_="10m",
            severity="ticket",
            summary=f"{term.title} of {self.model} is above {threshold * 1e3:g} ms ({term.expression})",
            term=term,
            threshold=threshold,
        )

    def engine_alerts(self) -> list[AlertRule]:
        preemptions = counter(vllm_names.NUM_PREEMPTIONS, self.version)
        kv = gauge(vllm_names.KV_CACHE_USAGE, self.version)
        waiting = gauge(vllm_names.NUM_REQUESTS_WAITING, self.version)
        running = gauge(vllm_names.NUM_REQUESTS_RUNNING, self.version)
        alerts = [
            AlertRule(
                name="VllmPreemptions",
                kind="preemptions",
                condition="preemptions",
                expr=f"{self.rate_sum(preemptions, '5m')} > 0",
                for_="10m",
                severity="ticket",
                summary=f"{self.model} preempts running requests: its KV cache runs out under this load",
                threshold=0.0,
            ),
            AlertRule(
                name="VllmKvCacheSaturated",
                kind="kv_saturated",
                condition="kv_saturated",
                expr=f"{kv}{self.sel} > {_fmt(KV_SATURATED)} and {waiting}{self.sel} > 0",
                for_="5m",
                severity="page",
                summary=f"a replica of {self.model} has its KV cache over {KV_SATURATED:.0%} full with requests "
                "waiting",
                threshold=KV_SATURATED,
            ),
        ]
        if has_family(ADMISSION_REJECTIONS, self.version):
            rejections = counter(ADMISSION_REJECTIONS, self.version)
            alerts.append(
                AlertRule(
                    name="VllmAdmissionRejections",
                    kind="admission_rejections",
                    condition="admission_rejections",
                    expr=f"{self.rate_sum(rejections, '5m', by='model_name, reason')} > 0",
                    for_="5m",
                    severity="page",
                    summary=f"{self.model} rejects requests at its queue limit",
                    threshold=0.0,
                )
            )
        alerts.append(
            AlertRule(
                name="VllmTargetMissing",
                kind="target_missing",
                condition="target_missing",
                expr=f"absent({running}{self.sel})",
                for_="5m",
                severity="page",
                summary=f"no vLLM server of {self.model} is scraped",
            )
        )
        return alerts


def build_rules(deployment: Deployment) -> RuleSet:
    """The recording rules and alerts of a deployment; every expression is checked against the catalogue of its
    vLLM version (a problem is a bug here, not the user's)."""
    b = _Builder(deployment)
    recording: list[RecordingRule] = []
    alerts: list[AlertRule] = []
    for term in terms(deployment):
        budget = term.budget
        if budget is None:
            recording.append(b.mean(term))
            alerts.append(b.mean_alert(term))
            continue
        recording += [b.error_ratio(term, w) for w in ERROR_RATIO_WINDOWS]
        recording.append(b.quantile(term))
        alerts += [b.burn(term, w) for w in BURN_WINDOWS if reachable(w, budget)]
    alerts += b.engine_alerts()
    rules = RuleSet(deployment=deployment, recording=tuple(recording), alerts=tuple(alerts))
    check_expressions(deployment, rules.expressions())
    return rules


def check_expressions(deployment: Deployment, expressions: list[str]) -> None:
    problems = find_problems(
        expressions,
        deployment.vllm_version,
        max_model_len=deployment.engine.max_model_len,
        custom_buckets=deployment.custom_histogram_buckets,
    )
    if problems:
        lines = "; ".join(f"{expressions[p.expression_index]!r}: {p.message}" for p in problems)
        raise AssertionError(f"generated PromQL does not fit vLLM {deployment.vllm_version}: {lines}")
