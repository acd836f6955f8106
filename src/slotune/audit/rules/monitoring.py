"""Operations, monitoring (seed, phase 4: Prometheus/Grafana must hold the SLO in real time): alert rules and
dashboards that cannot work against the vLLM they watch. Names vLLM removed or exposes only with a suffix
(`vllm:num_preemptions` is the series `vllm:num_preemptions_total`), names absent from a live scrape,
histogram_quantile over raw bucket counters, and thresholds between histogram bucket edges.

`expression_hits(exprs, version, ...)` takes only the expressions and what they are judged against, so
`slotune deploy`/`watch` can check the rules and dashboards they generate with the same words and fixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from slotune.audit.evidence import Evidence
from slotune.audit.monitoring_files import PromqlExpr
from slotune.audit.registry import Hit, Rule
from slotune.models.audit import EvidenceKind, Fix, Location
from slotune.models.vllm_metrics import MetricProblem
from slotune.vllm_metrics import find_problems, is_vllm_metric_name, resolve_series
from slotune.vllm_metrics.promql import metric_names

NAME_KINDS = frozenset(
    {
        "removed",
        "missing_suffix",
        "wrong_suffix",
        "not_in_version",
        "unknown",
        "no_series_match",
        "unknown_label_value",
    }
)
QUANTILE_KINDS = frozenset({"quantile_without_rate", "quantile_drops_le"})
RESOLUTION_KINDS = frozenset({"threshold_not_an_edge", "le_not_an_edge"})
_NEAREST = re.compile(r"nearest(?: edges are|:) ([0-9.e+-]+)(?: and ([0-9.e+-]+))?")


@dataclass(frozen=True, slots=True)
class Judged:
    """A problem in one expression (a vLLM name absent from the live scrape has kind "absent_from_scrape")."""

    expr: PromqlExpr
    kind: str
    name: str
    message: str
    offset: int
    replacement: str | None


def _judged(expr: PromqlExpr, problem: MetricProblem) -> Judged:
    return Judged(expr, problem.kind, problem.name, problem.message, problem.offset, problem.replacement)


def judge_expressions(
    exprs: Sequence[PromqlExpr],
    version: str,
    *,
    max_model_len: int | None = None,
    live_series: frozenset[str] | None = None,
    recording_rules: Iterable[str] = (),
) -> list[Judged]:
    """Every problem of the expressions against a vLLM version (and, given one, a live scrape's series)."""
    recorded = frozenset(recording_rules)
    problems = find_problems(
        [e.expr for e in exprs], version, max_model_len=max_model_len, recording_rules=recorded
    )
    judged = [_judged(exprs[p.expression_index], p) for p in problems]
    if live_series is not None:
        for expr in exprs:
            for name, offset in metric_names(expr.expr):
                if (
                    is_vllm_metric_name(name)
                    and name not in recorded
                    and resolve_series(name, version) is not None
                    and name not in live_series
                ):
                    message = f"{name} is not in the live scrape: the server does not expose it with its current flags"
                    judged.append(Judged(expr, "absent_from_scrape", name, message, offset, None))
    return judged


def _splice(j: Judged, replacement: str) -> str | None:
    text = j.expr.expr
    if text[j.offset : j.offset + len(j.name)] != j.name:
        return None
    return text[: j.offset] + replacement + text[j.offset + len(j.name) :]


def _nearest_edge(j: Judged) -> str | None:
    """The bucket edge nearest to a threshold, read from the problem's own words ("nearest: 0.1 and 0.25")."""
    match = _NEAREST.search(j.message)
    try:
        value = float(j.name.strip('"'))
    except ValueError:
        return None
    if match is None:
        return None
    edges = [float(e) for e in match.groups() if e]
    return f"{min(edges, key=lambda e: abs(e - value)):g}"


def _fixed_expression(j: Judged) -> str | None:
    """The expression with the problem's name replaced, where the replacement is one series or value."""
    if j.kind in NAME_KINDS and j.replacement and re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", j.replacement):
        return _splice(j, j.replacement)
    if j.kind in RESOLUTION_KINDS and (edge := _nearest_edge(j)) is not None:
        return _splice(j, edge)
    return None


def _fix_text(j: Judged, fixed: str | None) -> str:
    if fixed is not None:
        return f"change it to: {fixed}"
    if j.kind in QUANTILE_KINDS and j.replacement:
        return f"take the quantile of bucket rates: {j.replacement}"
    return j.message


def to_hit(j: Judged, kind: EvidenceKind, severity: str) -> Hit:
    fixed = _fixed_expression(j)
    where = f"{j.expr.file}: {j.expr.pointer}" + (f" ({j.expr.name})" if j.expr.name else "")
    return Hit(
        severity=severity,  # type: ignore[arg-type]
        confidence="high" if j.kind != "absent_from_scrape" else "medium",
        message=f"{where}: {j.message}",
        evidence=(kind, "metrics") if j.kind == "absent_from_scrape" else (kind,),
        observed={"expression": j.expr.expr, "problem": j.kind},
        fixes=(
            Fix(
                kind="promql",
                target=j.expr.pointer,
                value=fixed,
                current=j.expr.expr,
                text=_fix_text(j, fixed),
            ),
        ),
        locations=(Location(file=j.expr.file, line=j.expr.line, pointer=j.expr.pointer),),
    )


def _sources(ev: Evidence) -> list[tuple[EvidenceKind, tuple[PromqlExpr, ...], frozenset[str]]]:
    out: list[tuple[EvidenceKind, tuple[PromqlExpr, ...], frozenset[str]]] = []
    recorded = frozenset(n for f in ev.prometheus_rules for n in f.recorded)
    out.extend(("prometheus_rules", f.expressions, recorded) for f in ev.prometheus_rules)
    out.extend(("grafana", exprs, recorded) for _, exprs in ev.grafana)
    return out


def _max_model_len(ev: Evidence) -> int | None:
    if ev.engine is not None and ev.engine.config.max_model_len is not None:
        return ev.engine.config.max_model_len
    return ev.metrics.served_max_model_len if ev.metrics is not None else None


def _hits(ev: Evidence, kinds: frozenset[str], severity: str) -> list[Hit]:
    live = ev.metrics.series if ev.metrics is not None else None
    hits = []
    for kind, exprs, recorded in _sources(ev):
        for j in judge_expressions(
            exprs,
            ev.vllm_version,
            max_model_len=_max_model_len(ev),
            live_series=live,
            recording_rules=recorded,
        ):
            if j.kind in kinds:
                hits.append(to_hit(j, kind, "low" if j.kind == "absent_from_scrape" else severity))
    return hits


def check_names(ev: Evidence) -> list[Hit]:
    return _hits(ev, NAME_KINDS | {"absent_from_scrape"}, "high")


def check_quantiles(ev: Evidence) -> list[Hit]:
    return _hits(ev, QUANTILE_KINDS, "medium")


def check_resolution(ev: Evidence) -> list[Hit]:
    return _hits(ev, RESOLUTION_KINDS, "low")


RULES = (
    Rule(
        "monitoring-metric-name",
        "alerts or dashboards on metric names the server does not expose",
        "operations",
        "removed or renamed vLLM metrics, counters without _total, names absent from a live scrape",
        (("prometheus_rules", "grafana"),),
        check_names,
    ),
    Rule(
        "monitoring-quantile-without-rate",
        "histogram_quantile without rate()",
        "operations",
        "histogram_quantile over bucket counters not inside rate()/increase(), or aggregated without le",
        (("prometheus_rules", "grafana"),),
        check_quantiles,
    ),
    Rule(
        "monitoring-threshold-resolution",
        "thresholds below histogram bucket resolution",
        "operations",
        "a quantile compared with a value between two bucket edges, or an le matcher that is not an edge",
        (("prometheus_rules", "grafana"),),
        check_resolution,
    ),
)
