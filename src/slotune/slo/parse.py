"""Parse SLO expressions: "ttft:p99<200ms;itl:p99<50ms;e2e:p90<5s@0.95".

Grammar (whitespace ignored, clauses separated by ';'):
  latency clause:    METRIC ":" STAT "<" NUMBER UNIT     METRIC in ttft|itl|tpot|e2e, STAT pNN[.N] or mean,
                                                         UNIT in us|ms|s (required: no guessing units)
  throughput clause: "throughput" ">" NUMBER ["tok/s"]   output tokens per second, at least
  cost clause:       "cost" "<" NUMBER ["$/Mtok"]        USD per million output tokens, at most
  attainment:        a trailing "@" FRACTION (or NN%)    share of requests that must meet every latency clause
"""

from __future__ import annotations

import re

from slotune.errors import InputError
from slotune.models.slo import SLO, SLOTarget

_LATENCY_METRICS = ("ttft", "itl", "tpot", "e2e")
_UNIT_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
_LATENCY_RE = re.compile(
    r"^(?P<metric>[a-z0-9]+):(?P<stat>p\d+(?:\.\d+)?|mean)<(?P<num>[0-9.]+)(?P<unit>us|µs|ms|s)$"
)
_THROUGHPUT_RE = re.compile(r"^throughput>(?P<num>[0-9.]+)(?:tok/s)?$")
_COST_RE = re.compile(r"^cost<(?P<num>[0-9.]+)(?:\$/mtok)?$")
EXAMPLE = "ttft:p99<200ms;itl:p99<50ms;e2e:p90<5s@0.99"


def _attainment(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise InputError(
            "slo attainment", text, "give a fraction in (0, 1] or a percentage, e.g. @0.99 or @99%"
        )
    return value


def _positive(num: str, clause: str) -> float:
    try:
        value = float(num)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise InputError("slo", clause, "thresholds must be positive numbers, e.g. ttft:p99<200ms")
    return value


def _parse_clause(clause: str) -> SLOTarget:
    lowered = clause.lower()
    if m := _LATENCY_RE.match(lowered):
        metric = m["metric"]
        if metric not in _LATENCY_METRICS:
            raise InputError(
                "slo metric", metric, f"use one of {', '.join(_LATENCY_METRICS)}, throughput or cost"
            )
        stat = m["stat"]
        if stat != "mean" and not 0 < float(stat[1:]) < 100:
            raise InputError(
                "slo percentile", stat, "use a percentile between p0 and p100 exclusive, e.g. p99"
            )
        threshold_s = _positive(m["num"], clause) * _UNIT_S[m["unit"]]
        return SLOTarget(metric=metric, stat=stat, threshold=threshold_s)
    if m := _THROUGHPUT_RE.match(lowered):
        return SLOTarget(metric="throughput", stat="min", threshold=_positive(m["num"], clause))
    if m := _COST_RE.match(lowered):
        return SLOTarget(metric="cost", stat="max", threshold=_positive(m["num"], clause))
    raise InputError(
        "slo",
        clause,
        "write METRIC:STAT<VALUE UNIT (metric ttft|itl|tpot|e2e, stat pNN or mean, unit us|ms|s), "
        f"throughput>N or cost<N, clauses separated by ';', e.g. {EXAMPLE!r}",
    )


def parse_slo(text: str, *, name: str = "custom") -> SLO:
    """Parse an SLO expression into an `SLO`. Raises InputError naming the bad clause."""
    body = "".join(text.split())
    if not body:
        raise InputError("slo", text, f"give at least one clause, e.g. {EXAMPLE!r}")
    attainment = 0.99
    if "@" in body:
        body, _, att = body.rpartition("@")
        attainment = _attainment(att)
    clauses = [c for c in body.split(";") if c]
    targets = tuple(_parse_clause(c) for c in clauses)
    if not targets:
        raise InputError("slo", text, f"give at least one clause, e.g. {EXAMPLE!r}")
    seen: set[tuple[str, str]] = set()
    for t in targets:
        if (t.metric, t.stat) in seen:
            raise InputError(
                "slo", text, f"{t.metric}:{t.stat} appears twice; keep one threshold per metric and stat"
            )
        seen.add((t.metric, t.stat))
    objective = "cost" if any(t.metric == "cost" for t in targets) else "latency"
    if any(t.metric == "throughput" for t in targets) and not any(t.is_latency for t in targets):
        objective = "throughput"
    return SLO(name=name, targets=targets, attainment_target=attainment, objective=objective)


def format_slo(slo: SLO) -> str:
    """The canonical expression of an SLO (parse_slo(format_slo(s)) == s up to the name)."""
    parts = []
    for t in slo.targets:
        if t.is_latency:
            ms = t.threshold * 1e3
            parts.append(f"{t.metric}:{t.stat}<{ms:g}ms")
        elif t.metric == "throughput":
            parts.append(f"throughput>{t.threshold:g}")
        else:
            parts.append(f"cost<{t.threshold:g}")
    return ";".join(parts) + f"@{slo.attainment_target:g}"
