"""Synthesis: determinism, arrival processes that hit their rate, presets and fitted profiles."""

import json
import math

import numpy as np
import pytest

from slotune.workload import analyze, read_workload, write_workload
from slotune.workload.lengths import QUANTILE_GRID, load_tables
from slotune.workload.presets import PRESETS
from slotune.workload.synth import synthesize


def test_same_seed_same_bytes_through_the_cli(cli, tmp_path):
    args = [
        "workload",
        "synth",
        "--preset",
        "rag",
        "--num-requests",
        "300",
        "--arrival",
        "gamma",
        "--cv",
        "2",
    ]
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    for out, seed in ((a, "7"), (b, "7"), (c, "8")):
        result = cli(*args, "--seed", seed, "--out", str(out), "--json")
        assert result.returncode == 0, result.stderr
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    summary = json.loads(result.stdout)
    assert summary["num_requests"] == 300 and summary["out"] == str(c)


def test_written_file_reads_back_identical(tmp_path):
    w = synthesize(preset="classification", num_requests=200, seed=1)
    path = tmp_path / "w.jsonl"
    write_workload(w, path)
    back = read_workload(path)
    assert back.requests == w.requests
    assert back.digest == w.digest and back.hash_block_size == w.hash_block_size and back.name == w.name
    header = json.loads(path.read_text().splitlines()[0])
    assert header["slotune_workload"] == 1 and header["digest"] == w.digest


def test_synthesized_gamma_workload_has_the_rate_over_many_requests():
    w = synthesize(preset="chatbot", rate_rps=20.0, num_requests=50_000, arrival="gamma", cv=2.0, seed=3)
    s = analyze(w)
    assert s.mean_rate_rps == pytest.approx(20.0, rel=0.03)
    assert s.interarrival_cv == pytest.approx(2.0, rel=0.1)
    assert w.requests[0].arrival_s == 0.0


def test_duration_bounds_the_synthesized_arrivals():
    w = synthesize(preset="summarization", duration_s=600.0, seed=0)
    assert w.requests[-1].arrival_s < 600.0
    assert len(w.requests) == pytest.approx(0.5 * 600, rel=0.25)


@pytest.mark.parametrize(("preset", "table"), [("chatbot", "azure-conv"), ("code-completion", "azure-code")])
def test_trace_presets_follow_their_tables(preset, table):
    w = synthesize(preset=preset, num_requests=20_000, seed=5)
    prompt = np.array([r.prompt_tokens for r in w.requests])
    output = np.array([r.output_tokens for r in w.requests])
    t = load_tables()[table]
    p50, p90 = QUANTILE_GRID.index(50.0), QUANTILE_GRID.index(90.0)
    assert np.percentile(prompt, 50) == pytest.approx(t["prompt"][p50], rel=0.05)
    assert np.percentile(prompt, 90) == pytest.approx(t["prompt"][p90], rel=0.05)
    assert np.percentile(output, 50) == pytest.approx(t["output"][p50], rel=0.1)
    assert prompt.max() <= t["prompt"][-1] and prompt.min() >= 1


def test_every_preset_builds_consistent_requests():
    for name, preset in PRESETS.items():
        w = synthesize(preset=name, num_requests=300, seed=0)
        assert len(w.requests) == 300, name
        for r in w.requests:
            if r.prefix_block_ids:
                assert len(r.prefix_block_ids) == -(-r.prompt_tokens // w.hash_block_size), name
            if preset.system_prompt_tokens:
                assert r.system_prompt_tokens == preset.system_prompt_tokens
                assert r.prompt_tokens > preset.system_prompt_tokens


def test_offline_batch_arrives_at_once_unless_given_a_rate():
    assert {r.arrival_s for r in synthesize(preset="offline-batch", num_requests=50).requests} == {0.0}
    w = synthesize(preset="offline-batch", num_requests=50, rate_rps=5.0)
    assert w.requests[-1].arrival_s > 0


def test_shared_prefixes_show_up_as_reuse():
    s = analyze(synthesize(preset="classification", num_requests=500, seed=0))
    # Every request starts with the same 768-token instruction: after the first, all of it is a hit.
    assert s.prefix_reuse.unbounded_token_fraction >= 768 * 499 / s.total_prompt_tokens
    assert s.request_log.system_prompt.shared_request_fraction == 1.0


@pytest.mark.parametrize("num_requests", [300, 3000])
def test_profile_keeps_lengths_rate_and_prefix_reuse(data_dir, num_requests):
    source = read_workload(data_dir / "mooncake_slice.jsonl")
    src = analyze(source)
    w = synthesize(profile=source, num_requests=num_requests, seed=0)
    s = analyze(w)
    assert w.hash_block_size == 512
    assert {r.prompt_tokens for r in w.requests} <= {r.prompt_tokens for r in source.requests}
    assert s.prompt_tokens.mean == pytest.approx(src.prompt_tokens.mean, rel=0.1)
    # Poisson-like gaps: the rate's standard error is about 1/sqrt(n).
    assert s.mean_rate_rps == pytest.approx(src.mean_rate_rps, rel=4 / math.sqrt(num_requests))
    # Private blocks are renamed per draw, shared ones per trace-sized round: resampling (even 10x the
    # trace) neither invents reuse nor loses it.
    assert s.prefix_reuse.unbounded_token_fraction == pytest.approx(
        src.prefix_reuse.unbounded_token_fraction, abs=0.1
    )


def test_profile_gamma_defaults_to_the_trace_cv(data_dir):
    source = read_workload(data_dir / "azure_code_slice.csv")
    w = synthesize(profile=source, num_requests=20_000, arrival="gamma", seed=0)
    assert f"cv={analyze(source).interarrival_cv:g}" in w.source


def test_profile_of_text_gets_block_ids_from_tokens(data_dir, tokenizer_path):
    source = read_workload(data_dir / "mt_bench_chat_log.jsonl", tokenizer_path=str(tokenizer_path))
    w = synthesize(profile=source, num_requests=400, seed=0)
    assert w.hash_block_size == 16
    assert all(len(r.prefix_block_ids) == -(-r.prompt_tokens // 16) for r in w.requests)
    # The system prompt's first block is shared by every request drawn in one trace-sized round.
    rounds = math.ceil(400 / len(source.requests))
    assert len({r.prefix_block_ids[0] for r in w.requests}) == rounds
    first_round = w.requests[: len(source.requests)]
    assert len({r.prefix_block_ids[0] for r in first_round}) == 1
