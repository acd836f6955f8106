from __future__ import annotations

import pytest

from slotune.vllm_metrics import promql
from slotune.vllm_metrics.promql import Call, Selector, metric_names, parse, selectors, tokenize, unquote


def names(expr: str) -> list[str]:
    return [name for name, _ in metric_names(expr)]


def test_tokens_of_a_typical_panel() -> None:
    kinds = [(t.kind, t.text) for t in tokenize('rate(vllm:x_total{a="b"}[5m]) offset 1h # note')]
    assert kinds == [
        ("ident", "rate"),
        ("punct", "("),
        ("ident", "vllm:x_total"),
        ("punct", "{"),
        ("ident", "a"),
        ("op", "="),
        ("string", '"b"'),
        ("punct", "}"),
        ("punct", "["),
        ("duration", "5m"),
        ("punct", "]"),
        ("punct", ")"),
        ("ident", "offset"),
        ("duration", "1h"),
    ]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1h30m", "duration"),
        ("500ms", "duration"),
        ("0.25", "number"),
        ("1e-3", "number"),
        ("0x1F", "number"),
    ],
)
def test_numbers_and_durations(text: str, kind: str) -> None:
    (token,) = tokenize(text)
    assert (token.kind, token.text) == (kind, text)


@pytest.mark.parametrize(
    ("literal", "value"),
    [('"a\\"b"', 'a"b'), ("'it\\'s'", "it's"), ("`raw\\d`", "raw\\d"), ('"x\\ny"', "x\ny")],
)
def test_unquote(literal: str, value: str) -> None:
    assert unquote(literal) == value


def test_by_le_labels_are_not_metric_names() -> None:
    expr = "histogram_quantile(0.99, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"
    assert names(expr) == ["vllm:time_to_first_token_seconds_bucket"]
    ((sel, ancestors),) = selectors(expr)
    assert [c.func for c in ancestors] == ["histogram_quantile", "sum", "rate"]
    assert ancestors[1].grouping == ("by", ("le", "model_name"))
    assert sel.has_range


def test_a_grouping_after_the_body_belongs_to_the_aggregation() -> None:
    ((_, ancestors),) = selectors("histogram_quantile(0.9, sum(rate(vllm:x_bucket[1m])) by (le))")
    assert ancestors[1].func == "sum" and ancestors[1].grouping == ("by", ("le",))
    ((_, ancestors),) = selectors("SUM WITHOUT (le) (vllm:x_bucket)")
    assert ancestors[0].grouping == ("without", ("le",))


def test_nested_functions_and_binary_operations() -> None:
    expr = (
        "sum(rate(vllm:prefix_cache_hits_total[5m])) / sum(rate(vllm:prefix_cache_queries_total[5m])) "
        "* on(model_name) group_left(instance) max(vllm:cache_config_info) > bool 0.5"
    )
    assert names(expr) == [
        "vllm:prefix_cache_hits_total",
        "vllm:prefix_cache_queries_total",
        "vllm:cache_config_info",
    ]


def test_label_matchers_with_regexes_and_a_name_matcher() -> None:
    expr = '{__name__="vllm:num_requests_running", model_name=~"llama.*|qwen[0-9]+", engine!~"1|2"}'
    ((sel, _),) = selectors(expr)
    assert sel.name is None
    assert [(m.label, m.op, m.value) for m in sel.matchers] == [
        ("__name__", "=", "vllm:num_requests_running"),
        ("model_name", "=~", "llama.*|qwen[0-9]+"),
        ("engine", "!~", "1|2"),
    ]
    ((name, offset),) = metric_names(expr)
    assert name == "vllm:num_requests_running" and expr[offset:].startswith(name)


def test_a_quoted_metric_name_in_braces() -> None:
    ((name, offset),) = metric_names('rate({"vllm:prompt_tokens_total", model_name="m"}[1m])')
    assert name == "vllm:prompt_tokens_total" and offset == 7


def test_offsets_at_modifiers_and_subqueries() -> None:
    expr = (
        "rate(vllm:generation_tokens_total[5m] offset 1h) - rate(vllm:generation_tokens_total[5m] offset -30m)"
        " + max_over_time(rate(vllm:prompt_tokens_total[1m])[1h:1m]) + vllm:num_requests_running @ 1700000000"
        " + vllm:num_requests_waiting @ end()"
    )
    assert names(expr) == [
        "vllm:generation_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:prompt_tokens_total",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
    ]


def test_grafana_template_variables() -> None:
    expr = (
        'histogram_quantile($quantile, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="$model",'
        ' instance=~"${instance:regex}"}[$__rate_interval]))) + max_over_time(vllm:num_requests_running[[[interval]]])'
    )
    assert names(expr) == ["vllm:e2e_request_latency_seconds_bucket", "vllm:num_requests_running"]


@pytest.mark.parametrize(
    "expr", ["rate(vllm:${metric}_total[5m])", "vllm:$name", "${prefix}vllm:x", "vllm:x[[suffix]]"]
)
def test_a_name_built_from_a_template_variable_is_one_templated_selector(expr: str) -> None:
    ((sel, _),) = selectors(expr)
    assert sel.templated and sel.name is not None and expr[sel.start :].startswith(sel.name)
    assert metric_names(expr) == []


def test_strings_and_comments_hold_no_names() -> None:
    expr = (
        'label_replace(vllm:num_requests_running, "dst", "vllm:not_a_selector", "model_name", "(.*)") '
        '# vllm:in_a_comment\n+ count_values("vllm:also_not", vllm:num_requests_waiting)'
    )
    assert names(expr) == ["vllm:num_requests_running", "vllm:num_requests_waiting"]


def test_recording_rule_names_are_read_as_names() -> None:
    # Judging them is find_problems' job; the reader only sees names.
    assert names("job:vllm_ttft_seconds:p99 > 0.5 and vllm:ttft:rate5m") == [
        "job:vllm_ttft_seconds:p99",
        "vllm:ttft:rate5m",
    ]


def test_keywords_are_not_names() -> None:
    expr = "vllm:a and vllm:b or vllm:c unless on(model_name) vllm:d > bool 1 + inf - NaN"
    assert names(expr) == ["vllm:a", "vllm:b", "vllm:c", "vllm:d"]


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "(((",
        ")))",
        "sum(rate(vllm:x_total[5m]",
        'vllm:x{model_name="unterminated',
        "vllm:x{",
        "sum by (",
        "[[",
        "}{][)(",
        "offset",
        "$",
    ],
)
def test_malformed_input_never_raises(expr: str) -> None:
    parse(expr)
    metric_names(expr)


def test_unclosed_input_still_yields_what_it_can() -> None:
    assert names("sum(rate(vllm:x_total[5m]") == ["vllm:x_total"]


def test_parse_keeps_scalars_and_operators_beside_calls() -> None:
    nodes = parse("histogram_quantile(0.99, vllm:x_bucket) > 0.25")
    assert isinstance(nodes[0], Call) and nodes[0].func == "histogram_quantile"
    assert isinstance(nodes[1], promql.Operator) and nodes[1].text == ">"
    assert isinstance(nodes[2], promql.Scalar) and nodes[2].value == 0.25
    inner = nodes[0].children
    assert isinstance(inner[0], promql.Scalar) and isinstance(inner[1], Selector)


def test_walk_gives_every_node_with_its_enclosing_calls() -> None:
    walked = [(type(n).__name__, [c.func for c in anc]) for n, anc in promql.walk(parse("a(b(vllm:x))"))]
    assert walked == [("Call", []), ("Call", ["a"]), ("Selector", ["a", "b"])]
