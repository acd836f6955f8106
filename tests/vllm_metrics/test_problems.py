from __future__ import annotations

import pytest

from slotune.errors import InputError
from slotune.models.vllm_metrics import MetricProblem
from slotune.vllm_metrics import find_problems, is_vllm_metric_name, series_names

V25, V32 = "0.25.0", "0.32.0"
GOOD_TTFT_P99 = "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"


def kinds(problems: list[MetricProblem]) -> list[str]:
    return [p.kind for p in problems]


def only(problems: list[MetricProblem]) -> MetricProblem:
    assert len(problems) == 1, problems
    return problems[0]


# --- names ------------------------------------------------------------------------------------------------


def test_the_production_stack_mistakes() -> None:
    expr = "rate(vllm:num_preemptions[5m]) + vllm:gpu_cache_usage_perc"
    preempt, kv = find_problems(expr, V32)
    assert (preempt.kind, preempt.name, preempt.replacement) == (
        "missing_suffix",
        "vllm:num_preemptions",
        "vllm:num_preemptions_total",
    )
    assert expr[preempt.offset :].startswith("vllm:num_preemptions[")
    assert (kv.kind, kv.replacement) == ("removed", "vllm:kv_cache_usage_perc")
    assert "removed from vLLM in 0.12" in kv.message
    assert expr[kv.offset :] == "vllm:gpu_cache_usage_perc"


def test_a_correct_dashboard_has_no_problems() -> None:
    exprs = [
        GOOD_TTFT_P99,
        "sum(rate(vllm:prefix_cache_hits_total[$__rate_interval])) / sum(rate(vllm:prefix_cache_queries_total[5m]))",
        'vllm:num_requests_running{model_name="$model"} + ignoring(engine) vllm:num_requests_waiting',
        "sum by (finished_reason) (increase(vllm:request_success_total[1h]))",
        "rate(vllm:e2e_request_latency_seconds_sum[5m]) / rate(vllm:e2e_request_latency_seconds_count[5m])",
        'max(vllm:cache_config_info) by (block_size) and vllm:kv_cache_usage_perc{engine=~"0|1"} > 0.9',
        "histogram_quantile(0.5, sum(irate(vllm:inter_token_latency_seconds_bucket[1m])) by (le, model_name))",
        'sum(rate(vllm:time_to_first_token_seconds_bucket{le="0.25"}[5m])) / sum(rate(vllm:time_to_first_token_seconds_count[5m]))',
        "vllm:time_to_first_token_seconds_created",
    ]
    assert find_problems(exprs, V32) == []


def test_every_series_of_a_version_passes() -> None:
    for version in (V25, V32):
        assert find_problems(sorted(series_names(version)), version) == []


def test_counters_and_histograms_queried_by_family_name() -> None:
    hist = only(find_problems("vllm:e2e_request_latency_seconds", V32))
    assert hist.kind == "missing_suffix" and hist.replacement is None
    assert "_bucket" in hist.message and "_sum" in hist.message and "_count" in hist.message
    assert only(find_problems("vllm:prompt_tokens", V25)).replacement == "vllm:prompt_tokens_total"
    # A histogram vLLM named `..._total` is still a histogram.
    assert only(find_problems("vllm:iteration_tokens_total", V32)).kind == "missing_suffix"


@pytest.mark.parametrize(
    ("name", "replacement"),
    [
        ("vllm:num_requests_running_total", "vllm:num_requests_running"),
        ("vllm:kv_cache_usage_perc_bucket", "vllm:kv_cache_usage_perc"),
        ("vllm:prompt_tokens_bucket", "vllm:prompt_tokens_total"),
        ("vllm:e2e_request_latency_seconds_total", None),
    ],
)
def test_a_suffix_the_type_does_not_have(name: str, replacement: str | None) -> None:
    problem = only(find_problems(name, V32))
    assert (problem.kind, problem.replacement) == ("wrong_suffix", replacement)


def test_removed_names_give_their_replacement() -> None:
    tpot = only(find_problems("rate(vllm:time_per_output_token_seconds_sum[5m])", V32))
    assert (tpot.kind, tpot.replacement) == ("removed", "vllm:inter_token_latency_seconds_sum")
    assert "before 0.25" in tpot.message and "vllm:request_time_per_output_token_seconds" in tpot.message
    hits = only(find_problems("vllm:gpu_prefix_cache_hits_total", V25))
    assert hits.replacement == "vllm:prefix_cache_hits_total"
    swapped = only(find_problems("vllm:num_requests_swapped", V32))
    assert swapped.kind == "removed" and swapped.replacement is None
    assert "vllm:num_preemptions_total" in swapped.message
    hit_rate = only(find_problems("vllm:gpu_prefix_cache_hit_rate", V32))
    assert hit_rate.replacement is not None and "vllm:prefix_cache_queries_total" in hit_rate.replacement
    assert only(find_problems("vllm:cpu_cache_usage_perc", V32)).kind == "removed"


def test_a_name_from_another_version() -> None:
    problem = only(find_problems("sum(rate(vllm:request_num_preemptions_bucket[5m]))", V25))
    assert problem.kind == "not_in_version" and "0.32.0" in problem.message
    assert find_problems("sum(rate(vllm:request_num_preemptions_bucket[5m]))", V32) == []


def test_an_unknown_name_with_a_near_miss() -> None:
    problem = only(find_problems("vllm:num_request_running", V32))
    assert (problem.kind, problem.replacement) == ("unknown", "vllm:num_requests_running")
    assert only(find_problems("vllm:zzz", V32)).replacement is None


def test_recording_rules_and_other_exporters_are_not_reported() -> None:
    exprs = [
        "job:vllm_ttft_seconds:p99_5m > 0.5",
        "vllm:ttft:rate5m",
        "slotune:vllm_ttft_seconds:p99",
        "http_requests_total",
        "process_resident_memory_bytes",
        "my_recorded_vllm_rate",
    ]
    assert find_problems(exprs, V32) == []
    # A rule whose name looks like vLLM's own is left alone when given.
    assert find_problems("vllm:ttft_p99", V32, recording_rules=["vllm:ttft_p99"]) == []
    assert only(find_problems("vllm:ttft_p99", V32)).kind == "unknown"


def test_templated_names_are_not_judged() -> None:
    assert find_problems("rate(vllm:${counter}[5m]) + vllm:$gauge", V32) == []


def test_name_matchers() -> None:
    expr = '{__name__="vllm:gpu_cache_usage_perc"}'
    problem = only(find_problems(expr, V32))
    assert problem.kind == "removed" and expr[problem.offset :].startswith("vllm:gpu_cache_usage_perc")
    regex = only(find_problems('{__name__=~"vllm:gpu_.*"}', V32))
    assert regex.kind == "no_series_match" and regex.name == "vllm:gpu_.*"
    assert find_problems('{__name__=~"vllm:prefix_cache_.*_total"}', V32) == []
    assert find_problems('{__name__=~"vllm:$metric"}', V32) == []  # a template variable
    assert find_problems('{__name__=~"process_.*"}', V32) == []


def test_expressions_are_numbered() -> None:
    problems = find_problems(
        ["vllm:num_requests_running", "vllm:num_preemptions", "vllm:gpu_cache_usage_perc"], V32
    )
    assert [(p.expression_index, p.kind) for p in problems] == [(1, "missing_suffix"), (2, "removed")]


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError) as err:
        find_problems("vllm:num_requests_running", "0.9.0")
    assert err.value.field == "vllm_version"
    with pytest.raises(InputError):
        find_problems(["vllm:num_requests_running", 3], V32)  # type: ignore[list-item]


def test_is_vllm_metric_name() -> None:
    assert is_vllm_metric_name("vllm:num_requests_running")
    assert not is_vllm_metric_name("vllm:")
    assert not is_vllm_metric_name("vllm:ttft:p99")
    assert not is_vllm_metric_name("job:vllm_ttft:p99")
    assert not is_vllm_metric_name("vllm_num_requests_running")


def test_a_label_value_vllm_never_sets() -> None:
    expr = 'sum(rate(vllm:request_success_total{finished_reason="eos"}[5m]))'
    problem = only(find_problems(expr, V32))
    assert (problem.kind, problem.name) == ("unknown_label_value", "eos")
    assert "stop, length, abort, error, repetition" in problem.message
    assert expr[problem.offset :].startswith('eos"')
    assert (
        only(find_problems('vllm:request_success_total{finished_reason="lenght"}', V32)).replacement
        == "length"
    )
    fine = [
        'vllm:request_success_total{finished_reason="length"}',
        'vllm:request_success_total{finished_reason=~"eos|stop"}',  # a regex may list values that never come
        'vllm:request_success_total{finished_reason="$reason"}',
        'vllm:num_requests_running{model_name="anything"}',  # model_name's values are the server's
    ]
    assert find_problems(fine, V32) == []


# --- histogram misuse -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "histogram_quantile(0.99, vllm:time_to_first_token_seconds_bucket)",
        "histogram_quantile(0.99, sum by (le) (vllm:time_to_first_token_seconds_bucket))",
        "histogram_quantile(0.99, sum by (le) (vllm:time_to_first_token_seconds_bucket offset 1h))",
        "histogram_quantile(0.99, max_over_time(vllm:time_to_first_token_seconds_bucket[5m]))",
    ],
)
def test_histogram_quantile_over_buckets_without_rate(expr: str) -> None:
    problem = only(find_problems(expr, V32))
    assert problem.kind == "quantile_without_rate"
    assert (
        problem.replacement is not None
        and "rate(vllm:time_to_first_token_seconds_bucket" in problem.replacement
    )


@pytest.mark.parametrize(
    "expr",
    [
        GOOD_TTFT_P99,
        "histogram_quantile(0.9, sum(increase(vllm:time_to_first_token_seconds_bucket[1h])) by (le))",
        "histogram_quantile(0.9, irate(vllm:time_to_first_token_seconds_bucket[1m]))",
        "histogram_quantile(0.9, rate(vllm:time_to_first_token_seconds_bucket[5m] offset 1d))",
        "histogram_quantile(0.9, sum without (engine) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
        "histogram_quantile(0.9, (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
    ],
)
def test_histogram_quantile_used_right(expr: str) -> None:
    assert find_problems(expr, V32) == []


@pytest.mark.parametrize(
    "expr",
    [
        "histogram_quantile(0.9, sum(rate(vllm:time_to_first_token_seconds_bucket[5m])))",
        "histogram_quantile(0.9, sum by (model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
        "histogram_quantile(0.9, sum(rate(vllm:time_to_first_token_seconds_bucket[5m])) by (model_name))",
        "histogram_quantile(0.9, avg without (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
    ],
)
def test_an_aggregation_that_drops_le(expr: str) -> None:
    assert kinds(find_problems(expr, V32)) == ["quantile_drops_le"]


def test_both_histogram_mistakes_at_once() -> None:
    expr = "histogram_quantile(0.9, sum(vllm:inter_token_latency_seconds_bucket))"
    assert kinds(find_problems(expr, V32)) == ["quantile_without_rate", "quantile_drops_le"]


def test_buckets_outside_histogram_quantile_are_not_judged_for_rate() -> None:
    assert find_problems("sum by (le) (vllm:time_to_first_token_seconds_bucket)", V32) == []


def test_an_le_that_is_not_a_bucket_edge_selects_nothing() -> None:
    expr = 'sum(rate(vllm:time_to_first_token_seconds_bucket{le="0.2"}[5m]))'
    problem = only(find_problems(expr, V32))
    assert (problem.kind, problem.name, problem.replacement) == ("le_not_an_edge", "0.2", "0.25")
    assert "0.1 and 0.25" in problem.message
    assert expr[problem.offset :].startswith('0.2"')
    for edge in ("0.25", "1.0", "1", "2560.0", "+Inf"):
        assert find_problems(f'vllm:time_to_first_token_seconds_bucket{{le="{edge}"}}', V32) == []
    assert find_problems('vllm:time_to_first_token_seconds_bucket{le=~"0.2|0.25"}', V32) == []


def test_token_histogram_edges_need_max_model_len() -> None:
    expr = 'vllm:request_prompt_tokens_bucket{le="1024"}'
    assert find_problems(expr, V32) == []  # edges unknown: not judged
    problem = only(find_problems(expr, V32, max_model_len=4096))
    assert (problem.kind, problem.replacement) == ("le_not_an_edge", "2000")
    assert find_problems('vllm:request_prompt_tokens_bucket{le="2000.0"}', V32, max_model_len=4096) == []
    custom = {"request_tokens": [256, 1024]}
    assert find_problems(expr, V32, custom_buckets=custom) == []


@pytest.mark.parametrize(
    ("expr", "flagged"),
    [
        (GOOD_TTFT_P99 + " > 0.2", True),
        (GOOD_TTFT_P99 + " > bool 0.2", True),
        ("0.2 < " + GOOD_TTFT_P99, True),
        (GOOD_TTFT_P99 + " > 0.25", False),
        (GOOD_TTFT_P99 + " >= 1", False),
        (GOOD_TTFT_P99 + " * 1000 > 200", False),  # compared in ms: not the histogram's unit
        (GOOD_TTFT_P99 + " > 0.2 * 2", False),  # arithmetic binds tighter
        ("2 * " + GOOD_TTFT_P99 + " > 0.2", False),
        ("max(" + GOOD_TTFT_P99 + " > 0.3)", True),
    ],
)
def test_an_slo_threshold_between_bucket_edges(expr: str, flagged: bool) -> None:
    problems = find_problems(expr, V32)
    assert kinds(problems) == (["threshold_not_an_edge"] if flagged else [])
    if flagged:
        assert expr[problems[0].offset :].startswith(problems[0].name)


def test_threshold_message_names_the_nearest_edges() -> None:
    problem = only(find_problems(GOOD_TTFT_P99 + " > 0.2", V32))
    assert "0.1 and 0.25" in problem.message
