"""The catalogue of vLLM's Prometheus metrics per vLLM version (data/vllm-<version>.yaml), and the names vLLM
removed (data/removed.yaml): lookups from any series name, histogram edges for a server's settings."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import yaml

from slotune.errors import InputError
from slotune.models.vllm_metrics import (
    CREATED_SUFFIX,
    SERIES_SUFFIXES,
    BucketBracket,
    MetricType,
    RemovedMetric,
    Replacement,
    SeriesRef,
    VllmMetricCatalogue,
    VllmMetricFamily,
)

CATALOGUED_VERSIONS = ("0.25.0", "0.32.0")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:\D.*)?$")
_ALL_SUFFIXES = ("_bucket", "_sum", "_count", "_total", CREATED_SUFFIX)


def _data(name: str) -> Any:
    text = resources.files("slotune.vllm_metrics").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def catalogued_version(version: str) -> str:
    """The catalogued release a version string means: '0.32', 'v0.32.0', '0.32.0+cpu', '0.32.1rc1' -> '0.32.0'.

    Patch releases share their minor release's catalogue (vLLM adds metrics in minor releases)."""
    match = _VERSION.match(str(version).strip())
    by_minor = {v.rsplit(".", 1)[0]: v for v in CATALOGUED_VERSIONS}
    minor = f"{match.group(1)}.{match.group(2)}" if match else None
    if minor not in by_minor:
        raise InputError(
            "vllm_version",
            version,
            f"give one of the catalogued vLLM versions: {', '.join(CATALOGUED_VERSIONS)}",
            problem="no metric catalogue for this vLLM version",
        )
    return by_minor[minor]


@cache
def _catalogue(version: str) -> VllmMetricCatalogue:
    raw = _data(f"vllm-{version}.yaml")
    return VllmMetricCatalogue(
        vllm_version=str(raw["vllm_version"]),
        families=tuple(VllmMetricFamily(**entry) for entry in raw["families"]),
        notes=tuple(raw.get("notes") or ()),
    )


def catalogue(version: str) -> VllmMetricCatalogue:
    """Every `vllm:` metric family the given vLLM version can expose."""
    return _catalogue(catalogued_version(version))


@cache
def removed_metrics() -> tuple[RemovedMetric, ...]:
    """The families no catalogued vLLM exposes that tools still query."""
    return tuple(RemovedMetric(**entry) for entry in _data("removed.yaml")["removed"])


def series_names(version: str, *, conditional: bool = True, created: bool = True) -> frozenset[str]:
    """Every series name that can appear on the version's /metrics.

    conditional=False: only families every server exposes; created=False: without the `_created` gauges,
    which a server with --api-server-count > 1 does not expose."""
    return frozenset(
        series
        for family in catalogue(version).families
        if conditional or family.always_present
        for series in family.series(created=created)
    )


@cache
def _series_index(version: str) -> dict[str, SeriesRef]:
    index: dict[str, SeriesRef] = {}
    for family in _catalogue(version).families:
        for series in family.series(created=True):
            suffix = series[len(family.name) :]
            index[series] = SeriesRef(series=series, suffix=suffix, family=family)
    return index


def resolve_series(name: str, version: str) -> SeriesRef | None:
    """The family and suffix of a series name the version exposes (None if it exposes no such series)."""
    return _series_index(catalogued_version(version)).get(name)


def lookup(name: str, version: str) -> VllmMetricFamily | None:
    """The family of a series name (`..._bucket`, `..._total`, a gauge) or of a family name, in that version."""
    ref = resolve_series(name, version)
    if ref is not None:
        return ref.family
    return catalogue(version).family(name)


def split_suffix(name: str) -> tuple[str, str]:
    """`x_bucket` -> ("x", "_bucket"); a name without a series suffix -> (name, "")."""
    for suffix in _ALL_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def _removed_by_name() -> dict[str, RemovedMetric]:
    return {r.name: r for r in removed_metrics()}


def _removed_for(name: str) -> tuple[RemovedMetric, str] | None:
    """The removed family a series or family name belongs to, with the suffix the name carries."""
    removed = _removed_by_name()
    if name in removed:
        return removed[name], ""
    base, suffix = split_suffix(name)
    if base in removed and suffix in (*SERIES_SUFFIXES[removed[base].type], CREATED_SUFFIX):
        return removed[base], suffix
    return None


def replacement_for(name: str) -> Replacement | None:
    """What replaced a removed or renamed vLLM metric (family or series name); None if vLLM never removed it.

    A series keeps its suffix: `vllm:gpu_prefix_cache_hits_total` -> `vllm:prefix_cache_hits_total`; a bare
    counter name maps to the replacement's `_total` series, a bare histogram name to the replacement family."""
    found = _removed_for(name)
    if found is None:
        return None
    removed, suffix = found
    series = None
    if removed.replaced_by is not None:
        # A bare histogram name has no one series to map to: give the family and let the caller pick.
        bare = "" if removed.type is MetricType.HISTOGRAM else SERIES_SUFFIXES[removed.type][0]
        series = removed.replaced_by + (suffix or bare)
    return Replacement(
        name=name, series=series, expr=removed.replacement_expr, advice=removed.advice, removed=removed
    )


def _family_or_error(name: str, version: str) -> VllmMetricFamily:
    family = lookup(name, version)
    if family is None:
        raise InputError(
            "metric",
            name,
            f"give a metric vLLM {catalogued_version(version)} exposes (docs/vllm_metrics.md lists them)",
            problem="not a vLLM metric in this version",
        )
    return family


def build_1_2_5_buckets(max_value: int) -> tuple[float, ...]:
    """vLLM's token-count edges: 1, 2, 5, 10, 20, 50, ... up to and including max_value."""
    edges: list[float] = []
    scale = 1
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * scale
            if value > max_value:
                return tuple(edges)
            edges.append(float(value))
        scale *= 10


def histogram_buckets(
    name: str,
    version: str,
    *,
    max_model_len: int | None = None,
    custom_buckets: Mapping[str, Sequence[float]] | None = None,
) -> tuple[float, ...]:
    """A histogram's upper bucket edges (without +Inf) on a server of this version.

    max_model_len: the server's, for token-count histograms whose edges are a 1-2-5 series up to it;
    custom_buckets: the server's --custom-histogram-buckets (vLLM 0.32+), keyed by bucket family."""
    family = _family_or_error(name, version)
    if family.type is not MetricType.HISTOGRAM:
        raise InputError(
            "metric",
            name,
            "give a histogram (a name whose series end in _bucket)",
            problem=f"a {family.type}",
        )
    if custom_buckets and family.bucket_family is not None and family.bucket_family in custom_buckets:
        return tuple(float(b) for b in custom_buckets[family.bucket_family])
    if family.bucket_rule is not None:
        if max_model_len is None or max_model_len < 1:
            raise InputError(
                "max_model_len",
                max_model_len,
                "give the server's --max-model-len: this histogram's edges are 1, 2, 5, 10, ... up to it",
            )
        return build_1_2_5_buckets(max_model_len)
    assert family.buckets is not None, f"{family.name}: a histogram without edges in the catalogue"
    return family.buckets


def nearest_bucket_edges(
    name: str,
    threshold: float,
    version: str,
    *,
    max_model_len: int | None = None,
    custom_buckets: Mapping[str, Sequence[float]] | None = None,
) -> BucketBracket:
    """The bucket edges around an SLO threshold (in the histogram's unit, seconds for latencies).

    A quantile or an attainment fraction is exact only at an edge: between two edges Prometheus interpolates
    linearly inside the bucket."""
    edges = histogram_buckets(name, version, max_model_len=max_model_len, custom_buckets=custom_buckets)
    for edge in edges:
        if math.isclose(edge, threshold, rel_tol=1e-9, abs_tol=1e-12):
            return BucketBracket(threshold=threshold, lower=edge, upper=edge)
    i = bisect.bisect_left(edges, threshold)
    return BucketBracket(
        threshold=threshold,
        lower=edges[i - 1] if i > 0 else None,
        upper=edges[i] if i < len(edges) else None,
    )
