import math

import numpy as np
import pytest

from slotune.metrics import statistic, summarize, with_cost
from slotune.models import PriceUsed, RequestRecord
from slotune.slo import parse_slo, request_meets_slo


def record(rid, arrival, ttft, gaps, *, reason="length", prompt=100, cached=0, error=None):
    first = arrival + ttft
    times = [first]
    for g in gaps:
        times.append(times[-1] + g)
    return RequestRecord(
        request_id=rid,
        arrival_s=arrival,
        first_token_s=first,
        finish_s=times[-1],
        chunk_times_s=tuple(times),
        chunk_tokens=tuple(1 for _ in times),
        finish_reason=reason,
        prompt_tokens=prompt,
        cached_prompt_tokens=cached,
        output_tokens=len(times),
        error=error,
    )


def failed(rid, arrival, reason="error"):
    return RequestRecord(
        request_id=rid, arrival_s=arrival, finish_reason=reason, prompt_tokens=100, error="boom"
    )


def test_per_request_definition():
    slo = parse_slo("ttft:p99<200ms;itl:p50<50ms;tpot:mean<40ms;e2e:p90<1s")
    assert request_meets_slo(record("a", 0, 0.1, [0.03, 0.03, 0.03]), slo)
    assert not request_meets_slo(record("b", 0, 0.25, [0.03]), slo)  # ttft over
    assert not request_meets_slo(record("c", 0, 0.1, [0.06, 0.06, 0.01]), slo)  # own itl p50 = 0.06
    assert not request_meets_slo(record("d", 0, 0.1, [0.045] * 30), slo)  # e2e 1.45 s
    assert not request_meets_slo(failed("e", 0), slo)
    # one token: no ITL, no TPOT -> only TTFT and E2E apply
    assert request_meets_slo(record("f", 0, 0.1, []), slo)


def test_summary_counts_throughput_and_hand_computed_percentiles():
    recs = [record(str(i), float(i), 0.1 * (i + 1), [0.02] * 9, prompt=50, cached=10) for i in range(10)]
    s = summarize(recs, duration_s=20.0)
    assert (s.num_requests, s.num_ok, s.num_failed) == (10, 10, 0)
    assert s.output_tokens == 100
    assert s.output_tokens_per_s == pytest.approx(5.0)
    assert s.total_tokens_per_s == pytest.approx((500 + 100) / 20)
    assert s.cached_prompt_tokens == 100
    assert s.ttft_s.mean == pytest.approx(0.55)
    # numpy linear interpolation over 0.1..1.0: p90 = 0.91
    assert s.ttft_s.p90 == pytest.approx(0.91)
    assert s.itl_s.count == 90 and s.itl_s.p99 == pytest.approx(0.02)
    assert s.tpot_s.mean == pytest.approx(0.02)


def test_failures_are_kept_and_count_as_misses():
    slo = parse_slo("ttft:p90<1s@0.8")
    recs = [record(str(i), 0.0, 0.1, [0.01]) for i in range(8)] + [failed("x", 0), failed("y", 0, "timeout")]
    s = summarize(recs, duration_s=10.0, slo=slo)
    assert s.num_requests == 10 and s.num_failed == 2
    assert s.failures_by_reason == {"error": 1, "timeout": 1}
    assert s.slo_attainment == pytest.approx(0.8)
    assert s.goodput_rps == pytest.approx(0.8)
    # p90 over 8 x 0.1 s and 2 x inf lands between a success and a failure: a miss
    assert math.isinf(s.targets[0].observed)
    assert s.targets[0].passed is False
    assert s.slo_met is False
    # without failures the same target passes
    ok = summarize(recs[:8], duration_s=10.0, slo=slo)
    assert ok.targets[0].passed and ok.slo_met


def test_statistic_matches_numpy_without_failures():
    values = np.random.default_rng(0).exponential(size=101)
    assert statistic(values, "p99") == pytest.approx(np.percentile(values, 99))
    assert statistic(values, "mean") == pytest.approx(values.mean())


def _price(usd_per_gpu_hour: float) -> PriceUsed:
    return PriceUsed(gpu="h100-sxm", usd_per_gpu_hour=usd_per_gpu_hour, source="--price")


def test_throughput_and_cost_targets():
    slo = parse_slo("throughput>4;cost<100")
    recs = [record(str(i), 0.0, 0.1, [0.01] * 9) for i in range(10)]
    unpriced = summarize(recs, duration_s=20.0, slo=slo)
    assert unpriced.cost is None and [t.passed for t in unpriced.targets] == [True, False]
    s = with_cost(unpriced, _price(1.8), 2)
    # 100 tokens / 20 s = 5 tok/s; 2 GPUs x 1.8 $/h / (5 tok/s * 3600 s/h) * 1e6 = 200 $/Mtok
    assert s.usd_per_mtok == pytest.approx(200.0)
    assert [t.passed for t in s.targets] == [True, False] and s.slo_met is False
    assert s.targets[1].observed == pytest.approx(200.0)
    cheap = with_cost(unpriced, _price(0.45), 2)  # 50 $/Mtok: the cost target passes, and so does the SLO
    assert [t.passed for t in cheap.targets] == [True, True] and cheap.slo_met is True


def test_cost_per_request_is_at_goodput_with_an_slo_and_at_throughput_without():
    # 10 requests over 10 s, 4 of them too slow: goodput 0.6 req/s, throughput 1 req/s
    recs = [record(str(i), 0.0, 0.1 if i < 6 else 0.5, [0.01] * 9, prompt=300) for i in range(10)]
    with_slo = with_cost(
        summarize(recs, duration_s=10.0, slo=parse_slo("ttft:p50<200ms@0.5")), _price(3.6), 4
    )
    cost = with_slo.cost
    assert cost is not None and cost.request_basis == "goodput"
    assert cost.usd_per_hour == pytest.approx(14.4)  # every GPU: 4 x 3.6
    assert cost.requests_per_s == pytest.approx(0.6)
    assert cost.usd_per_request == pytest.approx(14.4 / 3600 / 0.6)
    assert cost.usd_per_1k_requests == pytest.approx(1000 * 14.4 / 3600 / 0.6)
    # output 10 tok/s, prompt + output 310 tok/s
    assert cost.usd_per_mtok == pytest.approx(14.4 / (10 * 3600) * 1e6)
    assert cost.usd_per_mtok_total == pytest.approx(14.4 / (310 * 3600) * 1e6)
    plain = with_cost(summarize(recs, duration_s=10.0), _price(3.6), 4).cost
    assert plain is not None and plain.request_basis == "throughput"
    assert plain.usd_per_request == pytest.approx(14.4 / 3600 / 1.0)


def test_no_price_means_no_cost_figures_and_a_reason():
    recs = [record(str(i), 0.0, 0.1, [0.01] * 9) for i in range(3)]
    s = with_cost(summarize(recs, duration_s=3.0), None, 1, missing="no price for a100-40gb")
    assert s.cost is not None and s.cost.price is None and s.usd_per_mtok is None
    assert s.cost.missing == "no price for a100-40gb" and s.cost.output_tokens_per_s == pytest.approx(10.0)


def test_nothing_produced_or_no_request_meeting_the_slo_is_no_figure_not_infinity():
    recs = [record(str(i), 0.0, 5.0, [0.01]) for i in range(3)]
    s = with_cost(summarize(recs, duration_s=3.0, slo=parse_slo("ttft:p99<1s")), _price(2.0), 1)
    assert s.cost is not None and s.cost.requests_per_s == 0.0 and s.cost.usd_per_request is None
    assert s.cost.usd_per_mtok is not None
    empty = with_cost(summarize([], duration_s=0.0), _price(2.0), 1)
    assert (
        empty.cost is not None and empty.cost.usd_per_mtok is None and empty.cost.usd_per_mtok_total is None
    )
