from __future__ import annotations

import pytest

from slotune.errors import InputError
from slotune.models.vllm_metrics import MetricType
from slotune.vllm_metrics import (
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
from slotune.vllm_metrics.catalogue import build_1_2_5_buckets, split_suffix

V25, V32 = "0.25.0", "0.32.0"


# --- versions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0.32.0", V32),
        ("0.32", V32),
        ("v0.32.0", V32),
        ("0.32.0+cpu", V32),
        ("0.32.1", V32),
        (" 0.25.0 ", V25),
    ],
)
def test_version_strings_resolve_to_the_minor_release_catalogue(given: str, expected: str) -> None:
    assert catalogued_version(given) == expected
    assert catalogue(given).vllm_version == expected


@pytest.mark.parametrize("given", ["0.30.0", "1.0", "latest", "", "0.3"])
def test_an_uncatalogued_version_is_an_input_error_naming_the_catalogued_ones(given: str) -> None:
    with pytest.raises(InputError) as err:
        catalogue(given)
    assert err.value.field == "vllm_version"
    assert "0.25.0" in err.value.fix and "0.32.0" in err.value.fix


# --- the data themselves ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", CATALOGUED_VERSIONS)
def test_every_family_is_well_formed(version: str) -> None:
    families = catalogue(version).families
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "a family listed twice"
    for f in families:
        assert f.name.startswith("vllm:") and f.name.count(":") == 1, f.name
        assert f.help, f.name
        assert len(set(f.labels)) == len(f.labels), f.name
        assert set(f.label_values) <= set(f.labels), f.name
        assert f.source.startswith("vllm/") and f.source.endswith(".py"), f.name
        if f.type is MetricType.COUNTER:
            # prometheus_client strips a registered `_total`: the family never ends with it.
            assert not f.name.endswith("_total"), f.name
        if f.type is MetricType.HISTOGRAM:
            assert (f.buckets is None) != (f.bucket_rule is None), f.name
            if f.buckets is not None:
                assert list(f.buckets) == sorted(set(f.buckets)) and f.buckets[0] > 0, f.name
        else:
            assert f.buckets is None and f.bucket_rule is None and f.bucket_family is None, f.name


@pytest.mark.parametrize("version", CATALOGUED_VERSIONS)
def test_no_two_families_expose_the_same_series(version: str) -> None:
    all_series = [s for f in catalogue(version).families for s in f.series(created=True)]
    assert len(all_series) == len(set(all_series))


def test_the_core_histograms_have_vllms_edges() -> None:
    for version in CATALOGUED_VERSIONS:
        ttft = histogram_buckets("vllm:time_to_first_token_seconds", version)
        itl = histogram_buckets("vllm:inter_token_latency_seconds", version)
        e2e = histogram_buckets("vllm:e2e_request_latency_seconds", version)
        assert (ttft[0], ttft[-1], len(ttft)) == (0.001, 2560.0, 22)
        assert (itl[0], itl[-1], len(itl)) == (0.01, 80.0, 19)  # ITL buckets start at 10 ms
        assert histogram_buckets("vllm:request_time_per_output_token_seconds", version) == itl
        assert (e2e[0], e2e[-1], len(e2e)) == (0.3, 7680.0, 21)
        assert histogram_buckets("vllm:iteration_tokens_total", version)[-1] == 16384


def test_what_changed_between_the_two_versions() -> None:
    only_32 = {
        "vllm:request_num_preemptions",
        "vllm:admission_rejections",
        "vllm:prompt_tokens_cached_by_source",
    }
    for name in only_32:
        assert catalogue(V32).family(name) is not None
        assert catalogue(V25).family(name) is None
    assert catalogue(V32).family("vllm:admission_rejections").labels == ("model_name", "reason")  # type: ignore[union-attr]
    # The bucket family keys of --custom-histogram-buckets exist in 0.32 only.
    assert all(f.bucket_family is None for f in catalogue(V25).families)
    assert catalogue(V32).family("vllm:time_to_first_token_seconds").bucket_family == "time_to_first_token"  # type: ignore[union-attr]


def test_the_conditional_families_say_what_enables_them() -> None:
    fam = catalogue(V32).family
    assert "--speculative-config" in (fam("vllm:spec_decode_num_drafts").condition or "")  # type: ignore[union-attr]
    assert "--enable-lora" in (fam("vllm:lora_requests_info").condition or "")  # type: ignore[union-attr]
    assert "--kv-cache-metrics" in (fam("vllm:kv_block_lifetime_seconds").condition or "")  # type: ignore[union-attr]
    assert "NixlConnector" in (fam("vllm:nixl_xfer_time_seconds").condition or "")  # type: ignore[union-attr]
    assert fam("vllm:num_requests_running").always_present  # type: ignore[union-attr]
    assert fam("vllm:cache_config_info").type is MetricType.INFO  # type: ignore[union-attr]


# --- series_names -----------------------------------------------------------------------------------------


def test_series_names_add_the_suffixes_prometheus_clients_add() -> None:
    names = series_names(V32)
    assert {"vllm:num_preemptions_total", "vllm:num_preemptions_created"} <= names
    assert "vllm:num_preemptions" not in names
    assert {
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:time_to_first_token_seconds_sum",
        "vllm:time_to_first_token_seconds_count",
        "vllm:time_to_first_token_seconds_created",
    } <= names
    assert "vllm:time_to_first_token_seconds" not in names
    assert {"vllm:kv_cache_usage_perc", "vllm:cache_config_info"} <= names
    # A histogram registered with a `_total` name keeps it: its series extend it.
    assert {"vllm:iteration_tokens_total_bucket", "vllm:iteration_tokens_total_count"} <= names
    # A counter registered with `_total` is exposed once with it.
    assert "vllm:tool_call_parser_invocations_total" in names
    assert "vllm:tool_call_parser_invocations_total_total" not in names


def test_series_names_can_leave_out_conditional_families_and_created_gauges() -> None:
    every = series_names(V32)
    always = series_names(V32, conditional=False)
    bare = series_names(V32, conditional=False, created=False)
    assert bare < always < every
    assert "vllm:spec_decode_num_drafts_total" in every and "vllm:spec_decode_num_drafts_total" not in always
    assert not any(s.endswith("_created") for s in bare)
    assert "vllm:prompt_tokens_total" in bare


def test_series_names_differ_by_version() -> None:
    assert "vllm:request_num_preemptions_bucket" in series_names(V32)
    assert "vllm:request_num_preemptions_bucket" not in series_names(V25)


# --- lookup -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "family", "suffix"),
    [
        ("vllm:time_to_first_token_seconds_bucket", "vllm:time_to_first_token_seconds", "_bucket"),
        ("vllm:time_to_first_token_seconds_sum", "vllm:time_to_first_token_seconds", "_sum"),
        ("vllm:time_to_first_token_seconds_count", "vllm:time_to_first_token_seconds", "_count"),
        ("vllm:time_to_first_token_seconds_created", "vllm:time_to_first_token_seconds", "_created"),
        ("vllm:request_success_total", "vllm:request_success", "_total"),
        ("vllm:kv_cache_usage_perc", "vllm:kv_cache_usage_perc", ""),
        ("vllm:iteration_tokens_total_bucket", "vllm:iteration_tokens_total", "_bucket"),
        ("vllm:tool_call_parser_invocations_total", "vllm:tool_call_parser_invocations", "_total"),
    ],
)
def test_lookup_resolves_any_exposed_series_to_its_family(series: str, family: str, suffix: str) -> None:
    found = lookup(series, V32)
    assert found is not None and found.name == family
    ref = resolve_series(series, V32)
    assert ref is not None and ref.suffix == suffix and ref.family.name == family


def test_lookup_takes_family_names_and_refuses_what_does_not_exist() -> None:
    assert lookup("vllm:request_success", V32).type is MetricType.COUNTER  # type: ignore[union-attr]
    assert resolve_series("vllm:request_success", V32) is None  # a family name is not a series
    assert lookup("vllm:gpu_cache_usage_perc", V32) is None
    assert lookup("vllm:kv_cache_usage_perc_total", V32) is None
    assert lookup("vllm:request_num_preemptions_count", V25) is None
    assert lookup("process_cpu_seconds_total", V32) is None


def test_split_suffix() -> None:
    assert split_suffix("vllm:x_bucket") == ("vllm:x", "_bucket")
    assert split_suffix("vllm:x_total") == ("vllm:x", "_total")
    assert split_suffix("vllm:x") == ("vllm:x", "")
    assert split_suffix("_total") == ("_total", "")


# --- removed names ----------------------------------------------------------------------------------------


def test_removed_names_are_exposed_by_no_catalogued_version() -> None:
    for version in CATALOGUED_VERSIONS:
        names = series_names(version)
        for removed in removed_metrics():
            assert catalogue(version).family(removed.name) is None, removed.name
            assert not any(s.startswith(removed.name + "_") or s == removed.name for s in names), removed.name


def test_every_replacement_exists_in_every_version_with_the_same_type() -> None:
    for removed in removed_metrics():
        assert removed.replaced_by or removed.replacement_expr or removed.advice, removed.name
        for version in CATALOGUED_VERSIONS:
            if removed.replaced_by is not None:
                family = catalogue(version).family(removed.replaced_by)
                assert family is not None and family.type is removed.type, removed.name


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"),
        ("vllm:gpu_prefix_cache_hits", "vllm:prefix_cache_hits_total"),
        ("vllm:gpu_prefix_cache_hits_total", "vllm:prefix_cache_hits_total"),
        ("vllm:gpu_prefix_cache_queries_total", "vllm:prefix_cache_queries_total"),
        ("vllm:time_per_output_token_seconds_bucket", "vllm:inter_token_latency_seconds_bucket"),
        ("vllm:time_per_output_token_seconds_sum", "vllm:inter_token_latency_seconds_sum"),
        ("vllm:time_per_output_token_seconds", "vllm:inter_token_latency_seconds"),
        ("vllm:time_in_queue_requests_count", "vllm:request_queue_time_seconds_count"),
    ],
)
def test_replacement_keeps_the_series_suffix(old: str, new: str) -> None:
    replacement = replacement_for(old)
    assert replacement is not None and replacement.series == new
    assert replacement.text.startswith(f"use {new}")


def test_replacements_without_a_single_family() -> None:
    swapped = replacement_for("vllm:num_requests_swapped")
    assert swapped is not None and swapped.series is None and swapped.expr is None
    assert "vllm:num_preemptions_total" in (swapped.advice or "")
    assert swapped.removed is not None and swapped.removed.removed_in == "before 0.25"
    assert swapped.text.startswith("no replacement; ")
    hit_rate = replacement_for("vllm:gpu_prefix_cache_hit_rate")
    assert (
        hit_rate is not None and hit_rate.expr is not None and "vllm:prefix_cache_hits_total" in hit_rate.expr
    )
    assert replacement_for("vllm:cpu_cache_usage_perc") is not None
    assert replacement_for("vllm:tokens_total") is not None


def test_replacement_for_a_current_or_unknown_name_is_none() -> None:
    assert replacement_for("vllm:kv_cache_usage_perc") is None
    assert replacement_for("vllm:prefix_cache_hits_total") is None
    assert replacement_for("vllm:gpu_cache_usage_perc_bucket") is None  # a gauge has no buckets
    assert replacement_for("http_requests_total") is None


# --- histogram edges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_value", "edges"),
    [
        (1, (1,)),
        (4, (1, 2)),
        (100, (1, 2, 5, 10, 20, 50, 100)),  # vLLM's own docstring example
        (2048, (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)),
    ],
)
def test_build_1_2_5_buckets(max_value: int, edges: tuple[int, ...]) -> None:
    assert build_1_2_5_buckets(max_value) == tuple(float(e) for e in edges)


def test_token_histograms_follow_max_model_len() -> None:
    for version in CATALOGUED_VERSIONS:
        for name in ("vllm:request_prompt_tokens", "vllm:request_generation_tokens_bucket"):
            assert histogram_buckets(name, version, max_model_len=32768)[-1] == 20000
            assert histogram_buckets(name, version, max_model_len=2048) == build_1_2_5_buckets(2048)


def test_token_histograms_need_max_model_len() -> None:
    with pytest.raises(InputError) as err:
        histogram_buckets("vllm:request_prompt_tokens", V32)
    assert err.value.field == "max_model_len" and "--max-model-len" in err.value.fix


def test_histogram_buckets_refuses_other_types_and_unknown_names() -> None:
    with pytest.raises(InputError, match="histogram"):
        histogram_buckets("vllm:num_requests_running", V32)
    with pytest.raises(InputError) as err:
        histogram_buckets("vllm:time_per_output_token_seconds", V32)
    assert err.value.field == "metric"


def test_custom_histogram_buckets_replace_a_bucket_familys_edges() -> None:
    custom = {"time_to_first_token": [0.05, 0.1, 0.2], "request_tokens": [128, 4096]}
    assert histogram_buckets("vllm:time_to_first_token_seconds", V32, custom_buckets=custom) == (
        0.05,
        0.1,
        0.2,
    )
    assert histogram_buckets("vllm:request_prompt_tokens", V32, custom_buckets=custom) == (128.0, 4096.0)
    itl = histogram_buckets("vllm:inter_token_latency_seconds", V32)
    assert histogram_buckets("vllm:inter_token_latency_seconds", V32, custom_buckets=custom) == itl
    # 0.25 has no --custom-histogram-buckets: its edges stay.
    ttft_25 = histogram_buckets("vllm:time_to_first_token_seconds", V25, custom_buckets=custom)
    assert ttft_25 == histogram_buckets("vllm:time_to_first_token_seconds", V25)


@pytest.mark.parametrize(
    ("threshold", "lower", "upper", "is_edge"),
    [
        (0.25, 0.25, 0.25, True),
        (0.2, 0.1, 0.25, False),
        (1.0, 1.0, 1.0, True),
        (0.0005, None, 0.001, False),
        (5000.0, 2560.0, None, False),
    ],
)
def test_nearest_bucket_edges_of_an_slo_threshold(
    threshold: float, lower: float | None, upper: float | None, is_edge: bool
) -> None:
    bracket = nearest_bucket_edges("vllm:time_to_first_token_seconds_bucket", threshold, V32)
    assert (bracket.lower, bracket.upper, bracket.is_edge) == (lower, upper, is_edge)
    assert bracket.threshold == threshold


def test_nearest_bucket_edges_with_max_model_len() -> None:
    bracket = nearest_bucket_edges("vllm:request_prompt_tokens", 3000, V25, max_model_len=8192)
    assert (bracket.lower, bracket.upper) == (2000.0, 5000.0)
    assert nearest_bucket_edges("vllm:request_prompt_tokens", 5000, V25, max_model_len=8192).is_edge
