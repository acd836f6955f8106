"""The vLLM series names slotune reads, in one place (tests check each against the catalogue of every
catalogued vLLM version, and each legacy name against the removed-metrics table)."""

from __future__ import annotations

# Gauges.
NUM_REQUESTS_RUNNING = "vllm:num_requests_running"
NUM_REQUESTS_WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"  # 0-1
CACHE_CONFIG_INFO = "vllm:cache_config_info"  # facts in labels: block_size, num_gpu_blocks, ...

# Counters, as exposed (with `_total`). Prefix-cache counters count tokens.
PREFIX_CACHE_HITS = "vllm:prefix_cache_hits_total"
PREFIX_CACHE_QUERIES = "vllm:prefix_cache_queries_total"
NUM_PREEMPTIONS = "vllm:num_preemptions_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
REQUEST_SUCCESS = "vllm:request_success_total"  # by finished_reason
SPEC_DECODE_NUM_DRAFTS = "vllm:spec_decode_num_drafts_total"
SPEC_DECODE_NUM_DRAFT_TOKENS = "vllm:spec_decode_num_draft_tokens_total"
SPEC_DECODE_NUM_ACCEPTED_TOKENS = "vllm:spec_decode_num_accepted_tokens_total"

# Histogram families (series: `_bucket`, `_sum`, `_count`).
TIME_TO_FIRST_TOKEN = "vllm:time_to_first_token_seconds"
INTER_TOKEN_LATENCY = "vllm:inter_token_latency_seconds"  # one sample per engine output step
REQUEST_TIME_PER_OUTPUT_TOKEN = "vllm:request_time_per_output_token_seconds"  # one sample per request
E2E_REQUEST_LATENCY = "vllm:e2e_request_latency_seconds"
REQUEST_QUEUE_TIME = "vllm:request_queue_time_seconds"
REQUEST_PREFILL_TIME = "vllm:request_prefill_time_seconds"
REQUEST_DECODE_TIME = "vllm:request_decode_time_seconds"

# What servers older than the catalogued versions call the same series (vLLM removed these names).
LEGACY_KV_CACHE_USAGE = "vllm:gpu_cache_usage_perc"
LEGACY_PREFIX_CACHE_HITS = "vllm:gpu_prefix_cache_hits_total"
LEGACY_PREFIX_CACHE_QUERIES = "vllm:gpu_prefix_cache_queries_total"
