"""`slotune simulate` through the CLI: output, --json, --trace, --config, and exit code 2 on bad input."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slotune.cli.main import app

runner = CliRunner()
AZURE = "tests/data/simulate/azure_conv_500.csv"
BASE = ["simulate", "--model", "llama-3.1-8b", "--gpu", "h100"]


def slotune(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slotune", *args], capture_output=True, text=True)


def test_json_output_has_summary_engine_and_config() -> None:
    result = runner.invoke(
        app, [*BASE, "--workload", AZURE, "--num-requests", "120", "--slo", "interactive-chat", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "simulate"
    run = data["result"]
    assert run["num_requests"] == 120 and "records" not in run and "timeline" not in run
    summary = run["summary"]
    assert summary["num_ok"] == 120 and summary["slo_name"] == "interactive-chat"
    assert 0 <= summary["slo_attainment"] <= 1 and summary["goodput_rps"] is not None
    for metric in ("ttft_s", "itl_s", "tpot_s", "e2e_s"):
        assert summary[metric]["p99"] >= summary[metric]["p50"] > 0
    engine = run["engine"]
    assert engine["source"] == "simulator"
    assert {
        "kv_usage_mean",
        "kv_usage_max",
        "prefix_hit_rate",
        "num_preemptions",
        "kv_capacity_tokens",
    } <= set(engine)
    assert run["simulator"]["num_steps"] > 0
    assert run["engine_config"]["max_num_seqs"] == 1024  # vLLM's H100 default
    assert run["provenance"]["backend"] == "simulator" and run["provenance"]["seed"] == 0


def test_human_output_prints_the_key_figures() -> None:
    result = runner.invoke(
        app, [*BASE, "--preset", "chatbot", "--rate", "4", "--duration", "20", "--slo", "interactive-chat"]
    )
    assert result.exit_code == 0, result.output
    for text in (
        "SLO",
        "attainment",
        "goodput",
        "throughput",
        "TTFT",
        "ITL",
        "TPOT",
        "E2E",
        "KV cache",
        "prefix hit rate",
        "preemptions",
    ):
        assert text in result.stdout


def test_engine_flags_and_config_file(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("max-num-seqs: 4\nmax_model_len: 8192\nenable-prefix-caching: false\n")
    args = [*BASE, "--workload", AZURE, "--num-requests", "60", "--config", str(config), "--json"]
    data = json.loads(
        runner.invoke(app, [*args, "--max-num-batched-tokens", "2048", "--enforce-eager"]).stdout
    )
    cfg = data["result"]["engine_config"]
    assert (cfg["max_num_seqs"], cfg["max_model_len"], cfg["max_num_batched_tokens"]) == (4, 8192, 2048)
    assert cfg["enable_prefix_caching"] is False and cfg["enforce_eager"] is True
    # The command-line flag wins over the file.
    data = json.loads(runner.invoke(app, [*args, "--max-num-seqs", "16"]).stdout)
    assert data["result"]["engine_config"]["max_num_seqs"] == 16


def test_speculative_config_flag() -> None:
    spec = '{"method": "eagle", "num_speculative_tokens": 2, "acceptance_rates": 0.9, "model": "some/draft"}'
    result = runner.invoke(
        app, [*BASE, "--workload", AZURE, "--num-requests", "30", "--speculative-config", spec, "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["result"]["engine_config"]["speculative_config"]["acceptance_rates"] == [0.9]


def test_trace_is_valid_chrome_trace_json(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    result = runner.invoke(
        app, [*BASE, "--workload", AZURE, "--num-requests", "50", "--trace", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    assert isinstance(events, list) and events
    phases = {e["ph"] for e in events}
    assert {"M", "X", "C"} <= phases
    for e in events:
        assert isinstance(e["name"], str) and isinstance(e["pid"], int)
        if e["ph"] == "X":
            assert isinstance(e["tid"], int) and e["ts"] >= 0 and e["dur"] >= 0
        if e["ph"] == "C":
            assert isinstance(e["args"], dict) and e["ts"] >= 0
    spans = [e for e in events if e["ph"] == "X" and e["pid"] == 2]
    assert {e["args"]["request_id"] for e in spans} == {str(i) for i in range(50)}
    assert {e["name"] for e in spans} <= {"queued", "prefill", "decode"}
    # Request spans on one row never overlap.
    by_row: dict[int, list[tuple[float, float]]] = {}
    for e in spans:
        by_row.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    for row in by_row.values():
        row.sort()
        assert all(a[1] <= b[0] + 1e-3 for a, b in itertools.pairwise(row))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "--preset",
                "chatbot",
                "--no-enable-chunked-prefill",
                "--max-num-batched-tokens",
                "4096",
                "--max-model-len",
                "8192",
            ],
            "max_num_batched_tokens=4096",
        ),
        (["--preset", "chatbot", "--max-model-len", "lots"], "max_model_len='lots'"),
        (["--preset", "chatbot", "--speculative-config", "{not json"], "speculative_config"),
        (
            ["--preset", "chatbot", "--speculative-config", '{"num_speculative_tokens": 0}'],
            "speculative_config",
        ),
        (["--preset", "no-such-preset"], "no-such-preset"),
        (["--workload", AZURE, "--preset", "chatbot"], "workload"),
        (["--workload", "tests/data/simulate/missing.csv"], "missing.csv"),
        (["--preset", "chatbot", "--slo", "ttft:p99<200"], "slo"),
        (["--preset", "chatbot", "--profile", "no-such-profile"], "profile"),
        (["--preset", "chatbot", "--tensor-parallel-size", "3"], "tensor_parallel_size"),
        (["--preset", "chatbot", "--gpu-memory-utilization", "1.5"], "gpu_memory_utilization"),
        (["--preset", "chatbot", "--rate", "2", "--concurrency", "4"], "--concurrency=4"),
        (["--preset", "chatbot", "--rate", "-1"], "--rate=-1"),
        (["--preset", "chatbot", "--rate", "2", "--arrival", "weibull"], "--arrival='weibull'"),
        (["--preset", "chatbot", "--rate", "2", "--arrival", "gamma"], "--cv=None"),
        (["--preset", "chatbot", "--think-time", "1"], "--think-time=1.0"),
        (["--workload", AZURE, "--num-requests", "900"], "--num-requests=900"),
        (["--workload", AZURE, "--num-requests", "5", "--seed", "-1"], "--seed=-1"),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_the_field(args: list[str], message: str) -> None:
    out = slotune(*BASE, *args)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("max-num-seqz: 4\n")
    out = slotune(*BASE, "--preset", "chatbot", "--config", str(config))
    assert out.returncode == 2 and "max-num-seqz" in out.stderr
    out = slotune("simulate", "--model", "no-such-model", "--gpu", "h100", "--preset", "chatbot")
    assert out.returncode == 2 and "no-such-model" in out.stderr


def test_load_flags_mean_what_they_mean_on_bench() -> None:
    """--rate is an open loop over the workload's requests (Poisson by default); --arrival trace keeps the
    trace's burstiness; --concurrency is a closed loop; the whole workload's digest is recorded."""

    def run(*args: str) -> dict[str, object]:
        result = runner.invoke(app, [*BASE, "--workload", AZURE, *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["result"]  # type: ignore[no-any-return]

    replay = run("--num-requests", "100")
    poisson = run("--rate", "3", "--num-requests", "100")
    trace = run("--rate", "3", "--arrival", "trace", "--num-requests", "100")
    closed = run("--concurrency", "4", "--think-time", "0.5", "--num-requests", "100", "--warmup-s", "5")
    digests = {d["provenance"]["workload_digest"] for d in (replay, poisson, trace, closed)}  # type: ignore[index]
    assert len(digests) == 1 and "" not in digests
    assert all(d["num_requests"] == 100 for d in (replay, poisson, trace, closed))
    assert [d["load"]["kind"] for d in (replay, poisson, trace, closed)] == [
        "replay",
        "rate",
        "rate",
        "concurrency",
    ]
    assert poisson["summary"] != trace["summary"]  # type: ignore[index]
