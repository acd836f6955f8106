"""vLLM's Prometheus metrics per vLLM version: what /metrics exposes, what vLLM removed and what replaced it, and
the problems a PromQL expression (a dashboard panel, an alert, a recording rule) has against a version.

Read by `slotune deploy` (Prometheus rules, Grafana dashboards), `slotune watch` and `slotune audit`. The data are
in data/vllm-<version>.yaml and data/removed.yaml; docs/vllm_metrics.md is generated from them (docs.py).
"""

from slotune.vllm_metrics.catalogue import (
    CATALOGUED_VERSIONS,
    catalogue,
    catalogued_version,
    histogram_buckets,
    lookup,
    nearest_bucket_edges,
    removed_metrics,
    replacement_for,
    resolve_series,
    series_names,
)
from slotune.vllm_metrics.problems import find_problems, is_vllm_metric_name

__all__ = [
    "CATALOGUED_VERSIONS",
    "catalogue",
    "catalogued_version",
    "find_problems",
    "histogram_buckets",
    "is_vllm_metric_name",
    "lookup",
    "nearest_bucket_edges",
    "removed_metrics",
    "replacement_for",
    "resolve_series",
    "series_names",
]
