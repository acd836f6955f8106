"""The Grafana dashboard: built with grafana-foundation-sdk, every expression fits the target vLLM's catalogue,
and it has the panels the SLO and the serving state need."""

from __future__ import annotations

import pytest
from deploy_helpers import make_deployment

from slotune.deploy.monitoring.dashboard import build_dashboard, expressions
from slotune.vllm_metrics import find_problems


def _titles(model: dict) -> list[str]:
    return [p["title"] for p in model["panels"]]


@pytest.mark.parametrize("version", ["0.25.0", "0.32.0"])
def test_every_expression_fits_the_catalogue(version: str) -> None:
    d = make_deployment(vllm_version=version)
    exprs = expressions(d)
    assert (
        find_problems(
            exprs, version, max_model_len=d.engine.max_model_len, custom_buckets=d.custom_histogram_buckets
        )
        == []
    )
    # Percentiles come from rate() of the buckets, never from the counters' whole life.
    for expr in exprs:
        if "histogram_quantile" in expr and "_bucket" in expr:
            assert "rate(" in expr


def test_the_panels_cover_slo_latency_queue_cache_and_balance() -> None:
    model = build_dashboard(make_deployment())
    titles = _titles(model)
    for wanted in (
        "SLO attainment (5m)",
        "Error budget left (dashboard range)",
        "Burn rate (1h)",
        "Time to first token",
        "Inter-token latency",
        "End-to-end latency",
        "Queue",
        "KV-cache usage by replica",
        "Prefix-cache hit rate",
        "Preemptions",
        "Finish reasons",
        "Per-replica imbalance",
    ):
        assert wanted in titles
    assert {v["name"] for v in model["templating"]["list"]} == {"datasource", "model_name"}
    assert model["uid"].startswith("slotune-")


def test_no_slo_no_slo_panels() -> None:
    titles = _titles(build_dashboard(make_deployment(slo=None)))
    assert "SLO attainment (5m)" not in titles and "Queue" in titles
