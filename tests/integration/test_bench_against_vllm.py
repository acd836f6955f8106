"""`slotune bench` through its CLI against a real vLLM server: fixed rate, fixed concurrency, trace replay.

Each run's records are checked on their own (counts, token counts from `usage` equal to the workload's,
monotone timestamps) and against the server: the client's token totals must equal the server's counter
deltas exactly, and the `/metrics` deltas in the saved report must equal an independent scrape around the run.
Every run uses its own seed, so prompts never repeat across runs and the prefix-free runs see no cache hits.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from vllm_helpers import counter_deltas, counter_totals
from vllm_launcher import BLOCK_SIZE, REPO_ROOT, TOKENIZER_JSON, VllmServer

from slotune.bench.prompts import stable_word_pool
from slotune.bench.server_words import server_word_pool
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.models import RequestSpec, Workload
from slotune.models.reports import BenchReport
from slotune.results import load_result
from slotune.workload import read_workload, write_workload
from slotune.workload.tokenizer import load_tokenizer

pytestmark = pytest.mark.integration

REPLAY_TRACE = REPO_ROOT / "tests" / "data" / "azure_conv_replay_20.csv"
BENCH_TIMEOUT_S = 300


def run_bench(
    server: VllmServer, out_dir: Path, *args: str, tokenizer: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run `slotune bench --json` in a subprocess (with the test tokenizer unless told otherwise); return its
    saved report (read back through the loader, as JSON) and the records."""
    command = [
        sys.executable,
        "-m",
        "slotune",
        "bench",
        "--url",
        server.base_url,
        "--model",
        server.model,
        *(["--tokenizer", str(TOKENIZER_JSON)] if tokenizer else []),
        "--warmup-s",
        "0",
        "--out",
        str(out_dir),
        "--json",
        "--allow-invalid",  # validity is asserted from the report where a test cares
        *args,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S, cwd=REPO_ROOT)
    assert proc.returncode == 0, (
        f"slotune bench exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    json.loads(proc.stdout)  # --json: machine-readable stdout and nothing else
    report = load_result(out_dir, BenchReport)
    return report.model_dump(mode="json", exclude={"result": {"records"}}), [
        r.model_dump(mode="json") for r in report.result.records
    ]


def server_window(summary: dict[str, Any]) -> dict[str, Any]:
    """The /metrics deltas over the measured window."""
    assert summary["kind"] == "bench"
    window = summary["result"]["server"]["window"]
    assert isinstance(window, dict) and window, (
        f"the report has no /metrics window: {summary['result']['server']}"
    )
    return window


def check_record_timestamps(record: dict[str, Any]) -> None:
    """arrival <= first token == first chunk <= every later chunk <= finish."""
    arrival, first, finish = record["arrival_s"], record["first_token_s"], record["finish_s"]
    chunks = record["chunk_times_s"]
    assert first is not None and finish is not None, record
    assert arrival <= first <= finish, record
    assert chunks and chunks[0] == pytest.approx(first, abs=1e-9), record
    assert all(a <= b for a, b in pairwise(chunks)), record
    assert chunks[-1] <= finish, record


def check_records(records: list[dict[str, Any]], requests: list[RequestSpec]) -> None:
    """Every request came back complete, with the workload's exact token counts (from the server's usage)."""
    assert len(records) == len(requests)
    for record in records:
        assert record["finish_reason"] == "length" and record["error"] is None, record
        # One token per chunk at --stream-interval 1, unless the API server lags the engine: vLLM then merges
        # the pending outputs into one chunk (RequestOutputCollector). Either way the tokens add up.
        assert len(record["chunk_tokens"]) == len(record["chunk_times_s"]), record
        assert all(n >= 1 for n in record["chunk_tokens"]), record
        assert sum(record["chunk_tokens"]) == record["output_tokens"], record
        check_record_timestamps(record)
    assert Counter(r["output_tokens"] for r in records) == Counter(s.output_tokens for s in requests)
    assert Counter(r["prompt_tokens"] for r in records) == Counter(s.prompt_tokens for s in requests)
    ids = [r["request_id"] for r in records]
    assert len(set(ids)) == len(ids)


def check_server_deltas(
    summary: dict[str, Any], records: list[dict[str, Any]], own_deltas: dict[str, float]
) -> dict[str, Any]:
    """The client's token totals equal the server's counters; summary's deltas equal our own scrape."""
    total_output = sum(r["output_tokens"] for r in records)
    total_prompt = sum(r["prompt_tokens"] for r in records)
    assert own_deltas["vllm:generation_tokens_total"] == total_output
    assert own_deltas["vllm:prompt_tokens_total"] == total_prompt
    assert own_deltas["vllm:request_success_total"] == len(records)
    assert summary["result"]["num_requests"] == len(records)
    assert summary["result"]["summary"]["num_ok"] == len(records)
    assert summary["result"]["summary"]["output_tokens"] == total_output
    window = server_window(summary)
    assert window["requests_finished"] == len(records)
    assert window["generation_tokens"] == total_output
    assert window["prompt_tokens"] == total_prompt
    assert window["prefix_cache_hits"] == own_deltas["vllm:prefix_cache_hits_total"]
    assert window["prefix_cache_queries"] == own_deltas["vllm:prefix_cache_queries_total"]
    # The server counts cached tokens per request too (--enable-prompt-tokens-details) and the client keeps them.
    assert sum(r["cached_prompt_tokens"] for r in records) == own_deltas["vllm:prefix_cache_hits_total"]
    engine = summary["result"]["engine"]
    assert engine["source"] == "server-metrics"
    assert engine["prefix_hit_tokens"] == own_deltas["vllm:prefix_cache_hits_total"]
    assert engine["generation_tokens"] == total_output
    # The pool the server reports in its cache_config_info gauge.
    assert engine["kv_capacity_tokens"] == engine["num_gpu_blocks"] * engine["block_size"] > 0
    return engine


def check_schedule(
    records: list[dict[str, Any]], planned_offsets_s: list[float], summary: dict[str, Any]
) -> None:
    """Requests left at their planned times, or the summary says how late they were and marks the run invalid.

    How late a client sends depends on the machine (a loaded 2-core VM can stall a process for a second);
    what must hold everywhere is that the recorded send times agree with the plan up to the lag the
    client reports, never early, and that a lag beyond the validity threshold invalidates the run.
    """
    arrivals = sorted(r["arrival_s"] for r in records)
    # The run clock starts at the first planned send, so a record's arrival is its planned time plus its lag.
    deviations = [a - p for a, p in zip(arrivals, planned_offsets_s, strict=True)]
    lag = summary["result"]["client"]["schedule_lag_s"]
    assert lag["count"] == len(records)
    assert min(deviations) >= -0.002, deviations
    assert max(deviations) <= lag["max_s"] + 0.002, (deviations, lag)
    if lag["p99_s"] > 0.010:
        validity = summary["result"]["validity"]
        assert not validity["valid"]
        assert any("schedule lag" in reason for reason in validity["reasons"]), validity["reasons"]


def max_in_flight(records: list[dict[str, Any]]) -> int:
    """Most requests open at once: a finish at the same instant as an arrival closes first."""
    events = sorted([(r["arrival_s"], 1) for r in records] + [(r["finish_s"], -1) for r in records])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def synthetic_workload(name: str, requests: list[RequestSpec]) -> Workload:
    return Workload(
        name=name, requests=tuple(requests), hash_block_size=BLOCK_SIZE, source="integration test"
    )


def prefix_free_workload() -> Workload:
    """12 requests of varied lengths and no declared prefix structure: every prompt is unique."""
    lengths = [(64, 8), (100, 16), (333, 24), (150, 12), (257, 32), (80, 48)] * 2
    return synthetic_workload(
        "prefix-free",
        [
            RequestSpec(request_id=f"free-{i}", arrival_s=0.0, prompt_tokens=p, output_tokens=o)
            for i, (p, o) in enumerate(lengths)
        ],
    )


def prefix_sharing_workload() -> Workload:
    """16 requests sharing their first 6 blocks (192 tokens) and then 2 blocks of their own (256 in all)."""
    shared = (1, 2, 3, 4, 5, 6)
    return synthetic_workload(
        "shared-prefix",
        [
            RequestSpec(
                request_id=f"shared-{i}",
                arrival_s=0.0,
                prompt_tokens=8 * BLOCK_SIZE,
                output_tokens=24,
                prefix_block_ids=(*shared, 1000 + 2 * i, 1001 + 2 * i),
            )
            for i in range(16)
        ],
    )


def test_fixed_rate_prefix_free(vllm_server: VllmServer, tmp_path: Path) -> None:
    workload = prefix_free_workload()
    workload_path = tmp_path / "prefix_free.jsonl"
    write_workload(workload, workload_path)
    rate_rps = 4.0

    before = counter_totals(vllm_server.base_url)
    summary, records = run_bench(
        vllm_server,
        tmp_path / "out",
        "--workload",
        str(workload_path),
        "--rate",
        str(rate_rps),
        "--arrival",
        "constant",
        "--num-requests",
        str(len(workload.requests)),
        "--seed",
        "11",
    )
    own = counter_deltas(before, counter_totals(vllm_server.base_url))

    check_records(records, list(workload.requests))
    # Constant-rate sends: request i planned at i / rate on the run's clock.
    check_schedule(records, [i / rate_rps for i in range(len(records))], summary)
    engine = check_server_deltas(summary, records, own)
    # Unique prompts: nothing to reuse.
    assert own["vllm:prefix_cache_queries_total"] == sum(r["prompt_tokens"] for r in records)
    assert own["vllm:prefix_cache_hits_total"] == 0
    assert engine["prefix_hit_rate"] == pytest.approx(0.0, abs=0.01)


def test_fixed_concurrency_prefix_sharing(vllm_server: VllmServer, tmp_path: Path) -> None:
    workload = prefix_sharing_workload()
    workload_path = tmp_path / "shared_prefix.jsonl"
    write_workload(workload, workload_path)
    concurrency = 4

    before = counter_totals(vllm_server.base_url)
    summary, records = run_bench(
        vllm_server,
        tmp_path / "out",
        "--workload",
        str(workload_path),
        "--concurrency",
        str(concurrency),
        "--num-requests",
        str(len(workload.requests)),
        "--seed",
        "12",
    )
    own = counter_deltas(before, counter_totals(vllm_server.base_url))

    check_records(records, list(workload.requests))
    assert max_in_flight(records) == concurrency
    engine = check_server_deltas(summary, records, own)
    # At most the first `concurrency` requests miss the shared 192 tokens; every later one hits all of them.
    shared_tokens = 6 * BLOCK_SIZE
    min_hits = (len(records) - concurrency) * shared_tokens
    assert own["vllm:prefix_cache_hits_total"] >= min_hits
    hit_rate = engine["prefix_hit_rate"]
    assert hit_rate >= min_hits / own["vllm:prefix_cache_queries_total"] > 0.5


def test_trace_replay_time_scaled(vllm_server: VllmServer, tmp_path: Path) -> None:
    trace = read_workload(REPLAY_TRACE)
    time_scale = 0.5  # 6.9 s of the Azure conversation trace in 3.5 s

    before = counter_totals(vllm_server.base_url)
    summary, records = run_bench(
        vllm_server,
        tmp_path / "out",
        "--workload",
        str(REPLAY_TRACE),
        "--time-scale",
        str(time_scale),
        "--seed",
        "13",
    )
    own = counter_deltas(before, counter_totals(vllm_server.base_url))

    check_records(records, list(trace.requests))
    # Sent at the trace's own arrival times, scaled.
    check_schedule(records, [spec.arrival_s * time_scale for spec in trace.requests], summary)
    engine = check_server_deltas(summary, records, own)
    assert own["vllm:prefix_cache_hits_total"] == 0
    assert engine["prefix_hit_rate"] == pytest.approx(0.0, abs=0.01)


def test_chat_api_exact_output_lengths(vllm_server: VllmServer, tmp_path: Path) -> None:
    workload = synthetic_workload(
        "chat",
        [
            RequestSpec(request_id=f"chat-{i}", arrival_s=0.0, prompt_tokens=120, output_tokens=16)
            for i in range(4)
        ],
    )
    workload_path = tmp_path / "chat.jsonl"
    write_workload(workload, workload_path)

    before = counter_totals(vllm_server.base_url)
    summary, records = run_bench(
        vllm_server,
        tmp_path / "out",
        "--workload",
        str(workload_path),
        "--api",
        "chat",
        "--concurrency",
        "2",
        "--num-requests",
        "4",
        "--seed",
        "14",
    )
    own = counter_deltas(before, counter_totals(vllm_server.base_url))

    assert len(records) == 4
    for record in records:
        assert record["finish_reason"] == "length" and record["error"] is None, record
        assert record["output_tokens"] == 16
        # The empty role chunk is not a token: TTFT is timed at the first chunk that carries one.
        assert sum(record["chunk_tokens"]) == 16 and len(record["chunk_times_s"]) == len(
            record["chunk_tokens"]
        )
        check_record_timestamps(record)
    # Nothing generated outside the records (e.g. a request resent after a dropped connection).
    context = (own, summary["result"]["client"], summary["result"]["validity"]["warnings"])
    assert own["vllm:request_success_total"] == 4, context
    assert own["vllm:generation_tokens_total"] == 4 * 16, context
    # The chat template adds its own tokens around the message; usage counts them.
    assert own["vllm:prompt_tokens_total"] == sum(r["prompt_tokens"] for r in records)


def test_simulator_and_real_vllm_fill_the_same_contract(vllm_server: VllmServer) -> None:
    """The Backend contract against the real engine: the same typed summary and engine fields as the simulator."""
    from vllm_launcher import TINY_MODEL_DIR

    from slotune.bench import HttpBackend
    from slotune.catalog import get_gpu, get_model
    from slotune.models import EngineConfig
    from slotune.simulate import Simulator
    from slotune.slo import resolve_slo

    slo = resolve_slo("ttft:p99<5s;itl:p99<1s@0.9")
    workload = synthetic_workload(
        "contract",
        [
            RequestSpec(request_id=f"k{i}", arrival_s=0.05 * i, prompt_tokens=40 + i, output_tokens=8)
            for i in range(8)
        ],
    )
    config = EngineConfig(max_model_len=2048)
    simulated = Simulator(get_model(str(TINY_MODEL_DIR / "config.json")), get_gpu("h100")).run(
        workload, config, slo=slo
    )
    measured = HttpBackend(vllm_server.base_url, vllm_server.model, tokenizer=str(TOKENIZER_JSON)).run(
        workload, config, slo=slo
    )

    def filled(model: object) -> set[str]:
        return {k for k, v in model.model_dump().items() if v is not None}  # type: ignore[attr-defined]

    assert filled(simulated.summary) == filled(measured.summary)
    assert measured.summary.slo_met is not None and measured.summary.goodput_rps is not None
    assert simulated.engine is not None and measured.engine is not None
    assert filled(simulated.engine) == filled(measured.engine)
    assert measured.engine.generation_tokens == simulated.engine.generation_tokens == 8 * 8


def test_server_tokenize_gives_the_local_word_pool(vllm_server: VllmServer) -> None:
    """vLLM's real /tokenize answer (tokens and token_strs) yields the pool the local tokenizer does."""

    async def ask() -> Any:
        pool = ConnectionPool(Endpoint(vllm_server.base_url))
        try:
            return await server_word_pool(pool, {}, vllm_server.model)
        finally:
            pool.close()

    from_server = asyncio.run(ask())
    local = stable_word_pool(load_tokenizer(TOKENIZER_JSON))
    assert from_server is not None
    assert from_server.texts == local.texts and from_server.ids.tolist() == local.ids.tolist()


@pytest.mark.parametrize("api", ["completions", "chat"])
def test_bench_without_tokenizer_keeps_exact_prompt_lengths(
    vllm_server: VllmServer, tmp_path: Path, api: str
) -> None:
    workload = prefix_free_workload()
    workload_path = tmp_path / "prefix_free.jsonl"
    write_workload(workload, workload_path)

    before = counter_totals(vllm_server.base_url)
    summary, records = run_bench(
        vllm_server,
        tmp_path / "out",
        "--workload",
        str(workload_path),
        "--api",
        api,
        "--concurrency",
        "4",
        "--num-requests",
        str(len(workload.requests)),
        "--seed",
        "15" if api == "chat" else "16",
        tokenizer=False,
    )
    own = counter_deltas(before, counter_totals(vllm_server.base_url))

    warnings = summary["result"]["validity"]["warnings"]
    assert any("server's /tokenize" in w for w in warnings), warnings
    # Every prompt as long as planned, chat template included, by the server's own count.
    check_records(records, list(workload.requests))
    assert summary["tokens"]["prompt_length_mismatched"] == 0
    check_server_deltas(summary, records, own)
