"""The vLLM series the monitoring queries, each checked against the metric catalogue of the target vLLM version,
and the small pieces of PromQL text every rule and panel shares."""

from __future__ import annotations

import math

from slotune.errors import InputError
from slotune.models.vllm_metrics import MetricType, VllmMetricFamily
from slotune.vllm_metrics import catalogued_version, lookup
from slotune.vllm_metrics import names as vllm_names

# The histogram each SLO latency metric is judged on (one sample per request, except ITL: one per output step).
SLO_HISTOGRAMS = {
    "ttft": vllm_names.TIME_TO_FIRST_TOKEN,
    "itl": vllm_names.INTER_TOKEN_LATENCY,
    "tpot": vllm_names.REQUEST_TIME_PER_OUTPUT_TOKEN,
    "e2e": vllm_names.E2E_REQUEST_LATENCY,
}
ADMISSION_REJECTIONS = "vllm:admission_rejections"


def family(name: str, version: str) -> VllmMetricFamily:
    """A family the target vLLM exposes (InputError naming the version otherwise)."""
    found = lookup(name, version)
    if found is None:
        raise InputError(
            "vllm_version",
            version,
            f"give a vLLM version whose /metrics has {name} (--vllm-version); docs/vllm_metrics.md lists them",
            problem=f"vLLM {catalogued_version(version)} does not expose {name}",
        )
    return found


def has_family(name: str, version: str) -> bool:
    return lookup(name, version) is not None


def series(name: str, suffix: str, version: str) -> str:
    """The series name of a family as the catalogue spells it: ("vllm:num_preemptions", "_total") -> ..._total."""
    fam = family(name, version)
    full = fam.name + suffix
    if full not in fam.series(created=False):
        raise ValueError(f"{fam.name} ({fam.type}) has no series {full}")
    return full


def counter(name: str, version: str) -> str:
    fam = family(name.removesuffix("_total"), version)
    if fam.type is not MetricType.COUNTER:
        raise ValueError(f"{fam.name} is a {fam.type}, not a counter")
    return series(fam.name, "_total", version)


def gauge(name: str, version: str) -> str:
    fam = family(name, version)
    if fam.type is not MetricType.GAUGE:
        raise ValueError(f"{fam.name} is a {fam.type}, not a gauge")
    return series(fam.name, "", version)


def go_float(value: float) -> str:
    """A bucket edge as the `le` label spells it on /metrics (prometheus_client's floatToGoString): 0.2 -> "0.2",
    1 -> "1.0", 1e-05 -> "1e-05"; a matcher with any other spelling selects nothing."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def selector(labels: dict[str, str], **extra: str) -> str:
    """`{a="x",b="y"}` with PromQL string escaping."""
    items = {**labels, **extra}
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in items.items())
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
