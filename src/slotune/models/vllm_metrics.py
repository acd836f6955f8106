"""vLLM's Prometheus metrics as data: one family per registered metric, one catalogue per vLLM version, the names
vLLM no longer exposes, and what a check of PromQL against a catalogue finds.

Series names follow prometheus_client's text exposition: a counter family `x` is the series `x_total`, a
histogram `x` the series `x_bucket`, `x_sum` and `x_count`; counters and histograms also expose `x_created` when
the server runs a single API-server process.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    # A gauge whose labels carry facts (value 1 or a timestamp); /metrics says TYPE gauge.
    INFO = "info"


# The suffixes each type's series add to the family name; "" is the bare family name.
SERIES_SUFFIXES: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("_total",),
    MetricType.GAUGE: ("",),
    MetricType.HISTOGRAM: ("_bucket", "_sum", "_count"),
    MetricType.INFO: ("",),
}
CREATED_SUFFIX = "_created"
ONE_TWO_FIVE_RULE = "1-2-5 up to max_model_len"


class VllmMetricFamily(Frozen):
    """One metric family as a vLLM version registers it."""

    name: str  # as prometheus_client holds it: counters without `_total`
    type: MetricType
    help: str
    labels: tuple[str, ...]
    label_values: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Histograms: the fixed upper edges (no +Inf), or the rule that derives them from the server's settings.
    buckets: tuple[float, ...] | None = None
    bucket_rule: Literal["1-2-5 up to max_model_len"] | None = None
    bucket_family: str | None = None  # the key of vLLM's --custom-histogram-buckets for these edges
    condition: str | None = None  # None: always exposed
    deprecated: str | None = None
    note: str | None = None
    source: str

    @property
    def always_present(self) -> bool:
        return self.condition is None

    @property
    def exposition_type(self) -> str:
        """The TYPE /metrics states (an info gauge is a gauge there)."""
        return "gauge" if self.type is MetricType.INFO else self.type.value

    @property
    def exposed_name(self) -> str:
        """The name on the family's HELP and TYPE lines of the text format (a counter's carries `_total`)."""
        return self.name + "_total" if self.type is MetricType.COUNTER else self.name

    def series(self, *, created: bool = True) -> tuple[str, ...]:
        """Every series name of the family on /metrics; `created`: with the single-process `_created` gauge."""
        names = tuple(self.name + suffix for suffix in SERIES_SUFFIXES[self.type])
        if created and self.type in (MetricType.COUNTER, MetricType.HISTOGRAM):
            names += (self.name + CREATED_SUFFIX,)
        return names


class RemovedMetric(Frozen):
    """A family no catalogued vLLM exposes, and what replaced it."""

    name: str
    type: MetricType
    replaced_by: str | None = None  # a family of the same type: series map suffix for suffix
    replacement_expr: str | None = None  # PromQL for the same quantity where no one family replaces it
    advice: str | None = None
    deprecated_in: str | None = None
    removed_in: str
    evidence: str


class VllmMetricCatalogue(Frozen):
    """Every `vllm:` family one vLLM version can expose."""

    vllm_version: str
    families: tuple[VllmMetricFamily, ...]
    notes: tuple[str, ...] = ()

    def family(self, name: str) -> VllmMetricFamily | None:
        return next((f for f in self.families if f.name == name), None)


class SeriesRef(Frozen):
    """A series name resolved to its family: `suffix` is what the series adds ("" for a gauge)."""

    series: str
    suffix: str
    family: VllmMetricFamily


class Replacement(Frozen):
    """What to query instead of a name that does not exist: a series, or an expression, or only advice."""

    name: str
    series: str | None = None
    expr: str | None = None
    advice: str | None = None
    removed: RemovedMetric | None = None  # set when the name is one vLLM removed

    @property
    def text(self) -> str:
        parts = [p for p in (self.series, self.expr) if p]
        use = f"use {parts[0]}" if parts else "no replacement"
        return f"{use}; {self.advice}" if self.advice else use


class BucketBracket(Frozen):
    """The histogram edges around a threshold: equal to it when it is an edge."""

    threshold: float
    lower: float | None  # None: below the first edge
    upper: float | None  # None: above the last finite edge (only +Inf is above)

    @property
    def is_edge(self) -> bool:
        return self.lower is not None and self.upper is not None and math.isclose(self.lower, self.upper)


ProblemKind = Literal[
    "removed",  # a name vLLM removed (replacement given when one exists)
    "missing_suffix",  # a counter or histogram family queried by its bare name: it has no such series
    "wrong_suffix",  # a suffix the family's type does not have (e.g. a gauge with `_total`)
    "not_in_version",  # exists in another catalogued vLLM version, not in this one
    "unknown",  # no catalogued vLLM has it
    "no_series_match",  # a __name__ regex that matches no series of this version
    "quantile_without_rate",  # histogram_quantile over _bucket counters not inside rate()/increase()
    "quantile_drops_le",  # an aggregation under histogram_quantile that does not keep `le`
    "le_not_an_edge",  # a `le` matcher whose value is not a bucket edge: it selects nothing
    "unknown_label_value",  # `label="v"` where vLLM gives the label a fixed set of values without v
    "threshold_not_an_edge",  # a quantile compared against a value between two bucket edges
]


class MetricProblem(Frozen):
    """One thing in a PromQL expression that will not work against a vLLM version's /metrics."""

    kind: ProblemKind
    name: str  # the series name (or `le` value, threshold) the problem is about
    message: str
    replacement: str | None = None  # the series or expression to use instead, when there is one
    expression_index: int = 0  # which of the expressions given
    offset: int = 0  # character offset of `name` in that expression
