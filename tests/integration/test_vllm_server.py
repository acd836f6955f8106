"""The real server itself, through plain HTTP: the facts slotune's client and planner rely on (VLLM_FACTS.md).

These validate the fixture and pin vLLM's behaviour; if an upgrade changes any of it, they say which fact moved.
"""

from __future__ import annotations

import random

import httpx
import pytest
from vllm_helpers import counter_deltas, counter_totals, metric_names, samples, scrape, stream_post
from vllm_launcher import BLOCK_SIZE, KV_BYTES_PER_TOKEN, KV_CACHE_SPACE_GIB, MAX_MODEL_LEN, VllmServer

from slotune.units import GiB

pytestmark = pytest.mark.integration

# Qwen3 tokenizer: ordinary BPE tokens (no special or added tokens) to build prompts from ids.
ORDINARY_TOKEN_IDS = range(1000, 150_000)


def unique_prompt_ids(n: int, *, seed: int) -> list[int]:
    """n random ordinary token ids: two prompts from different seeds share no cache block."""
    rng = random.Random(seed)
    return [rng.choice(ORDINARY_TOKEN_IDS) for _ in range(n)]


def test_server_is_up_with_the_tiny_model(vllm_server: VllmServer) -> None:
    models = httpx.get(f"{vllm_server.base_url}/v1/models", timeout=10).json()
    (entry,) = models["data"]
    assert entry["id"] == vllm_server.model
    assert entry["max_model_len"] == MAX_MODEL_LEN
    assert httpx.get(f"{vllm_server.base_url}/version", timeout=10).json()["version"] == "0.32.0"


def test_kv_capacity_is_cache_space_over_bytes_per_token(vllm_server: VllmServer) -> None:
    (labels, _), *_ = samples(scrape(vllm_server.base_url), "vllm:cache_config_info")
    expected_tokens = KV_CACHE_SPACE_GIB * GiB // KV_BYTES_PER_TOKEN
    assert expected_tokens == 524_288
    assert int(labels["kv_cache_size_tokens"]) == expected_tokens
    assert int(labels["block_size"]) == BLOCK_SIZE
    assert int(labels["num_gpu_blocks"]) * BLOCK_SIZE == expected_tokens
    assert int(labels["kv_cache_memory_bytes"]) == KV_CACHE_SPACE_GIB * GiB
    assert labels["enable_prefix_caching"] == "True"


def test_metric_names_slotune_reads_are_exposed(vllm_server: VllmServer) -> None:
    names = metric_names(scrape(vllm_server.base_url))
    gauges = {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"}
    counters = {
        "vllm:prefix_cache_queries_total",
        "vllm:prefix_cache_hits_total",
        "vllm:num_preemptions_total",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:request_success_total",
    }
    histograms = {
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:request_time_per_output_token_seconds",
        "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds",
        "vllm:request_prefill_time_seconds",
        "vllm:request_decode_time_seconds",
        "vllm:request_prompt_tokens",
        "vllm:request_generation_tokens",
        "vllm:iteration_tokens_total",
    }
    histogram_series = {f"{h}_{suffix}" for h in histograms for suffix in ("bucket", "sum", "count")}
    assert gauges | counters | histogram_series <= names
    # Renamed or removed in V1: a scraper that reads these gets nothing.
    assert not {"vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds_count"} & names


def test_streamed_completion_has_exact_length_and_usage_last(vllm_server: VllmServer) -> None:
    prompt = unique_prompt_ids(100, seed=101)
    response = stream_post(
        vllm_server.base_url,
        "/v1/completions",
        {
            "model": vllm_server.model,
            "prompt": prompt,
            "max_tokens": 20,
            "ignore_eos": True,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert response.status == 200
    assert response.done
    content = response.content_events
    # One token per chunk at the default --stream-interval 1, unless the API server fell behind the engine: then
    # vLLM merges the deltas waiting for a request into one chunk (a loaded 2-core machine shows 19 for 20).
    # The last content chunk carries the finish; the length is exact in the usage below.
    assert 10 <= len(content) <= 20
    assert [e["choices"][0]["finish_reason"] for _, e in content] == [None] * (len(content) - 1) + ["length"]
    times = [t for t, _ in response.events]
    assert times == sorted(times)
    # The usage chunk comes after every content chunk and has no choices.
    usage_time, usage_event = response.events[-1]
    assert usage_event["choices"] == []
    assert usage_event["usage"]["completion_tokens"] == 20
    assert usage_event["usage"]["prompt_tokens"] == 100
    assert usage_time >= content[-1][0]


def test_chat_stream_starts_with_an_empty_role_chunk(vllm_server: VllmServer) -> None:
    response = stream_post(
        vllm_server.base_url,
        "/v1/chat/completions",
        {
            "model": vllm_server.model,
            "messages": [{"role": "user", "content": "Hello world! " * 30}],
            "max_tokens": 8,
            "min_tokens": 8,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert response.status == 200
    first_time, first = response.content_events[0]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    token_events = [(t, e) for t, e in response.content_events[1:] if e["choices"][0]["delta"].get("content")]
    # min_tokens == max_tokens fixes the length without ignore_eos.
    assert len(token_events) == 8
    assert response.usage is not None and response.usage["completion_tokens"] == 8
    # TTFT must be timed at the first non-empty content, which is never earlier than the role chunk.
    assert token_events[0][0] >= first_time


def test_prefix_cache_counts_whole_blocks_of_a_repeated_prompt(vllm_server: VllmServer) -> None:
    prompt = unique_prompt_ids(300, seed=202)
    body = {"model": vllm_server.model, "prompt": prompt, "max_tokens": 4, "ignore_eos": True}
    url = f"{vllm_server.base_url}/v1/completions"

    before = counter_totals(vllm_server.base_url)
    first = httpx.post(url, json=body, timeout=60).json()
    middle = counter_totals(vllm_server.base_url)
    second = httpx.post(url, json=body, timeout=60).json()
    after = counter_totals(vllm_server.base_url)

    first_delta = counter_deltas(before, middle)
    second_delta = counter_deltas(middle, after)
    assert first_delta["vllm:prefix_cache_queries_total"] == 300
    assert first_delta["vllm:prefix_cache_hits_total"] == 0
    # Only whole blocks hit, and never the prompt's last token: 299 // 32 = 9 blocks = 288 tokens.
    expected_hits = (300 - 1) // BLOCK_SIZE * BLOCK_SIZE
    assert second_delta["vllm:prefix_cache_queries_total"] == 300
    assert second_delta["vllm:prefix_cache_hits_total"] == expected_hits == 288
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["usage"]["prompt_tokens_details"]["cached_tokens"] == expected_hits
    for delta in (first_delta, second_delta):
        assert delta["vllm:generation_tokens_total"] == 4
        assert delta["vllm:prompt_tokens_total"] == 300
        assert delta["vllm:request_success_total"] == 1
