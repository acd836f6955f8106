"""TTFT and E2E as clients see them: vLLM's histograms shifted by the API server's HTTP time around them.

The rule under test: vLLM's TTFT and E2E start at the API server's `arrival_time` (vllm/renderers/base.py) and end
in its output processor, while prometheus-fastapi-instrumentator's `http_request_duration_seconds` spans the whole
streamed request; a client's latency is the server's plus their difference."""

from __future__ import annotations

import bisect
import random

import pytest

from slotune.bench.server_metrics import parse_prometheus
from slotune.slo import parse_slo
from slotune.watch.client_view import client_share, outside_engine_s
from slotune.watch.shares import share_at_edges
from slotune.watch.window import window_status

# vLLM 0.32's buckets for TTFT and E2E (vllm/v1/metrics/loggers.py), up to 2.5 s.
TTFT_EDGES = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5)
MODEL = 'model_name="m",engine="0"'


def histogram(name: str, samples: list[float], labels: str = MODEL) -> list[str]:
    lines = []
    for edge in TTFT_EDGES:
        below = sum(s <= edge for s in samples)
        lines.append(f'{name}_bucket{{{labels},le="{edge}"}} {below}')
    lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {len(samples)}')
    lines.append(f"{name}_count{{{labels}}} {len(samples)}")
    lines.append(f"{name}_sum{{{labels}}} {sum(samples)}")
    return lines


def exposition(ttfts: list[float], e2es: list[float], http: dict[str, list[float]] | None) -> str:
    lines = histogram("vllm:time_to_first_token_seconds", ttfts)
    lines += histogram("vllm:e2e_request_latency_seconds", e2es)
    for handler, durations in (http or {}).items():
        lines += histogram("http_request_duration_seconds", durations, f'handler="{handler}",method="POST"')
    lines.append(f'vllm:request_success_total{{{MODEL},finished_reason="length"}} {len(ttfts)}')
    return "\n".join(lines) + "\n"


def buckets_of(samples: list[float]) -> list[tuple[float, float]]:
    ordered = sorted(samples)
    return [(e, float(bisect.bisect_right(ordered, e))) for e in TTFT_EDGES] + [(float("inf"), len(samples))]


def test_outside_time_is_the_http_mean_minus_the_e2e_mean_of_generation_routes() -> None:
    e2e = [0.40, 0.50, 0.60]
    http = {
        "/v1/completions": [0.404, 0.503, 0.605],
        "/v1/models": [9.0, 9.0],
    }  # the listing is not a request
    before = parse_prometheus(exposition([], [], {"/v1/completions": [], "/v1/models": []}), time_s=0)
    after = parse_prometheus(exposition([0.05] * 3, e2e, http), time_s=10)
    assert outside_engine_s(before, after) == pytest.approx(0.004)
    # No HTTP histogram (another server, a router in front): not measurable.
    assert outside_engine_s(before, parse_prometheus(exposition([0.05] * 3, e2e, None), time_s=10)) is None
    # Nothing finished in the window: nothing to average.
    assert outside_engine_s(after, after) is None


def test_a_client_share_is_the_servers_share_below_the_shifted_threshold() -> None:
    # Server TTFTs lognormal around 50 ms; every client sees 3.3 ms more (the VM's measured mean outside time).
    rng = random.Random(7)
    server = [rng.lognormvariate(-3.0, 0.45) for _ in range(20_000)]
    outside = 0.0033
    buckets = buckets_of(server)
    for threshold in (0.04, 0.06, 0.1):
        truth = sum(s + outside <= threshold for s in server) / len(server)
        at_edge = share_at_edges(buckets, threshold)
        shifted = client_share(buckets, threshold, outside)
        assert at_edge is not None and shifted is not None
        assert shifted.low <= shifted.value <= shifted.high == at_edge.value
        # The server's own share overstates what clients see (by more than 2 points among most requests, at 40
        # and 60 ms); the shifted share is within a point of the truth, and closer than that.
        assert abs(shifted.value - truth) < 0.01, threshold
        assert abs(shifted.value - truth) < at_edge.value - truth, threshold
        assert threshold > 0.06 or at_edge.value - truth > 0.02, threshold


def test_monotone_interpolation_follows_a_density_that_rises_across_buckets() -> None:
    """Within the 20-40 ms bucket most requests sit near 40 ms: a straight line through the bucket undercounts
    what a 5 ms shift moves across 40 ms, the monotone cubic through the neighbouring edges does not."""
    rng = random.Random(3)
    server = [rng.uniform(0.03, 0.07) for _ in range(20_000)]
    buckets = buckets_of(server)
    truth = sum(s + 0.005 <= 0.04 for s in server) / len(server)
    linear = share_at_edges(buckets, 0.035)
    pchip = client_share(buckets, 0.04, 0.005)
    assert linear is not None and pchip is not None
    assert abs(pchip.value - truth) < abs(linear.value - truth)


def test_shift_zero_and_the_extremes() -> None:
    buckets = buckets_of([0.03, 0.05, 0.07, 0.3])
    exact = client_share(buckets, 0.06, 0.0)
    assert exact is not None and exact.value == pytest.approx(0.5)
    below_zero = client_share(buckets, 0.002, 0.005)  # the shift eats the whole threshold
    assert below_zero is not None and below_zero.value == 0.0
    above = client_share(buckets, 5.0, 0.01)  # beyond the last finite edge: every request
    assert above is not None and above.value == 1.0
    assert client_share([(0.1, 0.0), (float("inf"), 0.0)], 0.05, 0.003) is None


def test_a_window_judges_ttft_and_e2e_as_clients_see_them_and_keeps_the_servers_share() -> None:
    slo = parse_slo("ttft:p50<40ms;e2e:p90<500ms;ttft:mean<50ms")
    ttfts = [0.036, 0.038, 0.039, 0.045, 0.05]  # three within 40 ms at the server
    e2es = [0.40, 0.45, 0.49, 0.495, 0.6]
    http = {"/v1/completions": [e + 0.005 for e in e2es]}  # 5 ms outside per request
    before = parse_prometheus(exposition([], [], {"/v1/completions": []}), time_s=0)
    after = parse_prometheus(exposition(ttfts, e2es, http), time_s=60)
    client = window_status("run", slo, before, after)
    assert client.outside_engine_s == pytest.approx(0.005)
    ttft, e2e, mean = client.terms
    assert ttft.server_attainment == pytest.approx(0.6)
    assert ttft.attainment is not None and ttft.attainment < 0.6
    assert e2e.server_attainment is not None and e2e.attainment is not None
    assert e2e.attainment <= e2e.server_attainment
    assert mean.mean_s == pytest.approx(sum(ttfts) / 5 + 0.005)
    server = window_status("run", slo, before, after, client_view=False)
    assert server.outside_engine_s is None
    assert server.terms[0].attainment == pytest.approx(0.6) and server.terms[0].server_attainment is None
    assert server.terms[2].mean_s == pytest.approx(sum(ttfts) / 5)
