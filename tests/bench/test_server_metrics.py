from __future__ import annotations

import math

import pytest

from slotune.bench.server_metrics import (
    engine_info,
    gauge_summary,
    histogram_quantile,
    parse_prometheus,
    prefix_hit_rate,
    timeline_samples,
    window_deltas,
)
from slotune.models import GaugeStats


def _exposition(
    hits: float,
    queries: float,
    preempt: float,
    q_sum: float,
    q_count: float,
    buckets: tuple[float, float, float],
    running: int,
    kv: float,
) -> str:
    b1, b2, b3 = buckets
    return f"""# HELP vllm:prefix_cache_hits Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits counter
vllm:prefix_cache_hits_total{{engine="0",model_name="m"}} {hits}
vllm:prefix_cache_queries_total{{engine="0",model_name="m"}} {queries}
vllm:num_preemptions_total{{engine="0",model_name="m"}} {preempt}
vllm:request_success_total{{engine="0",finished_reason="length",model_name="m"}} 3.0
vllm:request_success_total{{engine="0",finished_reason="stop",model_name="m"}} 2.0
vllm:request_queue_time_seconds_sum{{engine="0",model_name="m"}} {q_sum}
vllm:request_queue_time_seconds_count{{engine="0",model_name="m"}} {q_count}
vllm:request_queue_time_seconds_bucket{{engine="0",le="0.1",model_name="m"}} {b1}
vllm:request_queue_time_seconds_bucket{{engine="0",le="1.0",model_name="m"}} {b2}
vllm:request_queue_time_seconds_bucket{{engine="0",le="+Inf",model_name="m"}} {b3}
vllm:num_requests_running{{engine="0",model_name="m"}} {running}
vllm:num_requests_waiting{{engine="0",model_name="m"}} 1
vllm:kv_cache_usage_perc{{engine="0",model_name="m"}} {kv}
vllm:cache_config_info{{block_size="16",enable_prefix_caching="True",engine="0",cache_dtype="auto"}} 1.0
weird_metric{{path="a \\"quoted\\" \\\\ value",}} 4 1700000000000
not a metric line
"""


def test_parse_sums_label_sets_and_handles_escapes() -> None:
    snap = parse_prometheus(_exposition(10, 100, 0, 1.0, 5, (2, 4, 5), 3, 0.25), time_s=1.5)
    assert snap.time_s == 1.5
    assert snap.total("vllm:request_success_total") == 5.0
    assert snap.total("vllm:gpu_prefix_cache_hits_total", "vllm:prefix_cache_hits_total") == 10.0
    assert snap.total("missing") is None
    assert snap.labels_of("weird_metric") == [{"path": 'a "quoted" \\ value'}]
    assert snap.buckets("vllm:request_queue_time_seconds") == [(0.1, 2.0), (1.0, 4.0), (math.inf, 5.0)]
    assert engine_info(snap) == {
        "cache_config.block_size": "16",
        "cache_config.enable_prefix_caching": "True",
        "cache_config.cache_dtype": "auto",
    }


def test_window_deltas_hit_rate_queue_time_and_quantiles() -> None:
    before = parse_prometheus(_exposition(10, 100, 1, 1.0, 5, (2, 4, 5), 0, 0.0), time_s=0.0)
    after = parse_prometheus(_exposition(70, 200, 4, 3.0, 15, (7, 13, 15), 2, 0.5), time_s=10.0)
    d = window_deltas(before, after)
    assert d.window_s == 10.0
    assert d.prefix_cache_hits == 60 and d.prefix_cache_queries == 100
    assert prefix_hit_rate(d) == pytest.approx(0.6)
    assert d.num_preemptions == 3
    q = d.histograms["queue_time_s"]
    assert q.count == 10 and q.mean == pytest.approx(0.2)
    # Delta buckets: 5 in [0, 0.1], 4 in (0.1, 1], 1 above: the median is the 5th sample -> 0.1.
    assert q.p50 == pytest.approx(0.1)
    assert d.counter_resets == ()


def test_counter_reset_counts_from_zero_and_is_reported() -> None:
    before = parse_prometheus(_exposition(500, 900, 0, 1.0, 5, (2, 4, 5), 0, 0.0))
    after = parse_prometheus(_exposition(20, 40, 0, 1.5, 6, (3, 5, 6), 0, 0.0))
    d = window_deltas(before, after)
    assert d.prefix_cache_hits == 20 and d.prefix_cache_queries == 40
    assert "prefix_cache_hits" in d.counter_resets


def test_histogram_quantile_matches_prometheus() -> None:
    buckets = [(0.01, 0.0), (0.1, 50.0), (1.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.01 + 0.09 * 0.5)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.1 + 0.9 * 0.98)
    assert histogram_quantile(0.5, []) is None


def test_timeline_and_gauges() -> None:
    snaps = [
        parse_prometheus(_exposition(0, 0, 0, 0, 0, (0, 0, 0), 1, 0.1), time_s=0.0),
        parse_prometheus(_exposition(16, 64, 1, 0, 0, (0, 0, 0), 3, 0.3), time_s=1.0),
        parse_prometheus(_exposition(48, 128, 1, 0, 0, (0, 0, 0), 2, 0.2), time_s=2.0),
    ]
    tl = timeline_samples(snaps)
    assert [
        (s.time_s, s.num_running, s.prefix_hit_tokens, s.prefix_query_tokens, s.num_preemptions) for s in tl
    ] == [
        (1.0, 3, 16, 64, 1),
        (2.0, 2, 32, 64, 0),
    ]
    assert tl[0].kv_usage == pytest.approx(0.3)
    g = gauge_summary(snaps)
    assert g["num_requests_running"] == GaugeStats(mean=2.0, max=3.0)
