"""The Grafana dashboard of a deployment, built with grafana-foundation-sdk (Grafana's own typed builders).

Every panel queries what is true now, not over the server's life: percentiles are `histogram_quantile` over
`rate()` of the buckets, ratios divide rates and drop idle pools (`> 0`) rather than divide by zero. Metric names
come from the catalogue of the target vLLM (the panels are written for it and checked with `find_problems`).
Panels are first a list of `PanelSpec` (what to show), then rendered: the specs are what tests run against a
live Prometheus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode

from slotune.deploy.monitoring.rules import ERROR_RATIO, QUANTILE, check_expressions
from slotune.deploy.monitoring.series import (
    ADMISSION_REJECTIONS,
    SLO_HISTOGRAMS,
    counter,
    gauge,
    has_family,
    series,
)
from slotune.deploy.monitoring.terms import Term, terms
from slotune.models.deploy import Deployment
from slotune.vllm_metrics import names as vllm_names

RATE = "$__rate_interval"
RANGE = "$__range"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = '{model_name="$model_name"}'
PERCENTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class PanelSpec:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str
    kind: str = "timeseries"  # or "stat"
    threshold: float | None = None  # a red line (the SLO's threshold or objective)
    width: int = 12


def _rate(series_name: str, by: str = "", extra: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    matchers = SEL if not extra else SEL[:-1] + "," + extra + "}"
    return f"sum{grouping} (rate({series_name}{matchers}[{RATE}]))"


def _quantile_panel(d: Deployment, metric: str, title: str) -> PanelSpec:
    bucket = series(SLO_HISTOGRAMS[metric], "_bucket", d.vllm_version)
    queries = tuple(
        Query(f"histogram_quantile({q:g}, {_rate(bucket, 'le')})", f"p{q * 100:g}") for q in PERCENTILES
    )
    threshold = next((t.threshold for t in (d.slo.targets if d.slo else ()) if t.metric == metric), None)
    return PanelSpec(
        title=title,
        description=f"Percentiles from rate() of {bucket} over the panel's interval; the red line is the SLO's "
        "threshold. Exact at bucket edges, interpolated between them.",
        queries=queries,
        unit="s",
        threshold=threshold,
        width=8,
    )


def _budget_expr(term: Term) -> str:
    total = f"sum(increase({term.count}{SEL}[{RANGE}]))"
    good = f'sum(increase({term.bucket}{SEL[:-1]},le="{term.le}"}}[{RANGE}]))'
    budget = term.budget
    return f"1 - (({total} - {good}) / ({total} > 0)) / {budget:.6g}"


def slo_panels(d: Deployment) -> list[PanelSpec]:
    judged = [t for t in terms(d) if t.budget is not None]
    if not judged:
        return []
    recorded = f'{{deployment="{d.name}"}}'
    attainment = PanelSpec(
        title="SLO attainment (5m)",
        description="Share of requests (of gaps, for ITL) within each SLO term's threshold, from the recording "
        "rules slotune generated (slotune-rules.yaml must be loaded).",
        queries=(Query(f"1 - {ERROR_RATIO}5m{recorded}", "{{slo_term}}"),),
        unit="percentunit",
        threshold=min(t.objective or 1.0 for t in judged),
    )
    budget = PanelSpec(
        title="Error budget left (dashboard range)",
        description="1 - (share of events over the threshold in the range) / (the term's error budget); below 0: "
        "the range spent more than its budget.",
        queries=tuple(Query(_budget_expr(t), t.expression) for t in judged),
        unit="percentunit",
        kind="stat",
    )
    burn = PanelSpec(
        title="Burn rate (1h)",
        description="How many times faster than it lasts each term spends its budget; the fast-burn page fires "
        "above 14.4 on both the 1h and 5m windows.",
        queries=tuple(
            Query(
                f'{ERROR_RATIO}1h{{deployment="{d.name}",slo_term="{t.key}"}} / {t.budget:.6g}', t.expression
            )
            for t in judged
        ),
        unit="none",
        threshold=1.0,
    )
    quantiles = PanelSpec(
        title="SLO percentiles (5m, recorded)",
        description="Each term's percentile from the recording rules, against its threshold.",
        queries=(Query(f"{QUANTILE}{recorded}", "{{slo_term}} p{{quantile}}"),),
        unit="s",
    )
    return [attainment, budget, burn, quantiles]


def latency_panels(d: Deployment) -> list[PanelSpec]:
    return [
        _quantile_panel(d, "ttft", "Time to first token"),
        _quantile_panel(d, "itl", "Inter-token latency"),
        _quantile_panel(d, "e2e", "End-to-end latency"),
    ]


def load_panels(d: Deployment) -> list[PanelSpec]:
    v = d.vllm_version
    waiting = gauge(vllm_names.NUM_REQUESTS_WAITING, v)
    running = gauge(vllm_names.NUM_REQUESTS_RUNNING, v)
    kv = gauge(vllm_names.KV_CACHE_USAGE, v)
    hits = counter(vllm_names.PREFIX_CACHE_HITS, v)
    queries = counter(vllm_names.PREFIX_CACHE_QUERIES, v)
    preemptions = counter(vllm_names.NUM_PREEMPTIONS, v)
    success = counter(vllm_names.REQUEST_SUCCESS, v)
    prompt = counter(vllm_names.PROMPT_TOKENS, v)
    generation = counter(vllm_names.GENERATION_TOKENS, v)
    per_replica = f"sum by (instance) (rate({success}{SEL}[{RATE}]))"
    panels = [
        PanelSpec(
            "Queue",
            "Requests waiting for admission and running in the batch, over all replicas.",
            (Query(f"sum({waiting}{SEL})", "waiting"), Query(f"sum({running}{SEL})", "running")),
            "short",
        ),
        PanelSpec(
            "KV-cache usage by replica",
            "Share of each replica's KV-cache blocks in use; full with a queue means the cache, not compute, "
            "limits admission.",
            (Query(f"{kv}{SEL}", "{{instance}}"),),
            "percentunit",
            threshold=d.autoscaling.kv_usage,
        ),
        PanelSpec(
            "Prefix-cache hit rate",
            "Cached prompt tokens over queried prompt tokens (both counted in tokens).",
            (Query(f"{_rate(hits)} / ({_rate(queries)} > 0)", "hit rate"),),
            "percentunit",
        ),
        PanelSpec(
            "Preemptions",
            "Running requests preempted for lack of KV cache and recomputed later, per second.",
            (Query(_rate(preemptions), "preemptions/s"),),
            "short",
        ),
        PanelSpec(
            "Finish reasons",
            "Finished requests per second by reason: `length` hit max_tokens, `stop` a stop condition, `abort` "
            "the client left, `error` failed.",
            (Query(_rate(success, "finished_reason"), "{{finished_reason}}"),),
            "reqps",
        ),
        PanelSpec(
            "Per-replica imbalance",
            "Busiest replica over the mean, by completed requests and by running requests: 1 is even; the "
            "router or the autoscaler is uneven above 1.5.",
            (
                Query(f"max({per_replica}) / (avg({per_replica}) > 0)", "completions"),
                Query(f"max({running}{SEL}) / (avg({running}{SEL}) > 0)", "running"),
            ),
            "none",
            threshold=1.5,
        ),
        PanelSpec(
            "Tokens per second",
            "Prompt tokens prefilled and tokens generated per second, over all replicas.",
            (Query(_rate(prompt), "prompt"), Query(_rate(generation), "generated")),
            "short",
        ),
    ]
    if has_family(ADMISSION_REJECTIONS, v):
        rejections = counter(ADMISSION_REJECTIONS, v)
        panels.append(
            PanelSpec(
                "Admission rejections",
                "Requests refused at the queue limit, per second, by reason.",
                (Query(_rate(rejections, "reason"), "{{reason}}"),),
                "reqps",
            )
        )
    return panels


def panel_specs(d: Deployment) -> list[tuple[str, list[PanelSpec]]]:
    return [("SLO", slo_panels(d)), ("Latency", latency_panels(d)), ("Load and cache", load_panels(d))]


def expressions(d: Deployment) -> list[str]:
    return [q.expr for _, panels in panel_specs(d) for p in panels for q in p.queries]


def _thresholds(value: float | None) -> dash.ThresholdsConfig:
    steps = [Threshold(value=None, color="green")]
    if value is not None:
        steps.append(Threshold(value=value, color="red"))
    return dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def _panel(spec: PanelSpec) -> Any:
    builder: Any = stat.Panel() if spec.kind == "stat" else timeseries.Panel()
    builder = (
        builder.title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .span(spec.width)
        .height(8)
        .thresholds(_thresholds(spec.threshold))
    )
    for i, query in enumerate(spec.queries):
        builder = builder.with_target(
            prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(chr(ord("A") + i))
        )
    return builder


def build_dashboard(d: Deployment) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (import it, or provision it from a file)."""
    check_expressions(d, expressions(d))
    running = gauge(vllm_names.NUM_REQUESTS_RUNNING, d.vllm_version)
    builder = (
        dash.Dashboard(f"vLLM {d.served_model_name}: SLO and serving")
        .uid(f"slotune-{d.name}"[:40])
        .tags(["vllm", "slotune", f"vllm-{d.vllm_version}"])
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .with_variable(dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(
            dash.QueryVariable("model_name")
            .label("Model")
            .datasource(DATASOURCE)
            .query(f"label_values({running}, model_name)")
        )
    )
    for title, panels in panel_specs(d):
        if not panels:
            continue
        builder = builder.with_row(dash.Row(title))
        for spec in panels:
            builder = builder.with_panel(_panel(spec))
    model = json.loads(JSONEncoder(sort_keys=True).encode(builder.build()))
    for variable in model["templating"]["list"]:
        if variable["name"] == "model_name":
            variable["current"] = {"text": d.served_model_name, "value": d.served_model_name}
    return model
