"""`slotune bench` through its CLI against fake OpenAI-compatible servers on 127.0.0.1, faults included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
from fake_server import Behaviour, FakeOpenAIServer

from slotune.cli.main import main
from slotune.models import RequestRecord, RequestSpec, Workload
from slotune.models.reports import BenchReport, SweepReport
from slotune.results import load_result, report_json
from slotune.workload import write_workload

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    capsys: pytest.CaptureFixture[str], *args: str, allow_invalid: bool = True
) -> tuple[int, str, str]:
    """`slotune bench ARGS` in this process. An invalid run exits 3 by default; on a loaded test machine the
    client's own lag can make any run invalid, so tests about other things pass --allow-invalid."""
    with pytest.raises(SystemExit) as info:
        main(["bench", *(["--allow-invalid"] if allow_invalid else []), *args])
    captured = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else int(code)), captured.out, captured.err


def bench_args(server: FakeOpenAIServer, tokenizer_path: str, out: Path, *extra: str) -> list[str]:
    return [
        "--url",
        server.url,
        "--model",
        server.model,
        "--tokenizer",
        tokenizer_path,
        "--out",
        str(out),
        *extra,
    ]


def load_out(out: Path) -> tuple[BenchReport, list[RequestRecord]]:
    """The saved report, read back through the loader (records from records.jsonl beside it)."""
    report = load_result(out, BenchReport)
    return report, list(report.result.records)


def assert_on_schedule(sent_s: list[float], planned_s: list[float]) -> None:
    """Sends follow the planned times (from the first send). Judged by the median deviation and the share
    within 10 ms, not the worst one: the fake server shares this process's GIL, and a busy test machine
    can delay a single send by a lot without the schedule being wrong."""
    sent = sorted(sent_s)
    deviation = sorted(abs((s - sent[0]) - p) for s, p in zip(sent, planned_s, strict=True))
    assert deviation[len(deviation) // 2] < 0.005, deviation
    assert sum(d < 0.010 for d in deviation) >= 0.6 * len(deviation), deviation


def check_timestamps(r: RequestRecord) -> None:
    assert r.first_token_s is not None and r.finish_s is not None
    assert r.arrival_s <= r.first_token_s <= r.finish_s
    assert r.chunk_times_s[0] == r.first_token_s
    assert all(a <= b for a, b in pairwise(r.chunk_times_s))
    assert r.chunk_times_s[-1] <= r.finish_s


def test_constant_rate_run_json_records_and_server_deltas(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(token_delay_s=0.001)) as server:
        code, stdout, _ = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--rate", "40", "--arrival", "constant", "--num-requests", "20"
            ),
            "--input-tokens",
            "48",
            "--output-tokens",
            "6",
            "--json",
            # The fake server runs in this process and takes the GIL from the client now and then; this
            # test is about the records, the lag checks have their own tests.
            "--max-lag-ms",
            "1000",
        )
        generation_requests = server.state.requests
    assert code == 0
    summary, records = load_out(out)
    assert json.loads(stdout) == report_json(summary)  # --json: the report on stdout and nothing else
    assert generation_requests == 20  # no probe request on a vLLM-like server (it has /tokenize)
    assert summary.valid, summary.reasons
    assert len(records) == summary.result.num_requests == 20
    for r in records:
        assert r.ok and r.finish_reason == "length"
        assert r.output_tokens == 6 and r.prompt_tokens == 48
        assert r.chunk_tokens == (1,) * 6  # continuous usage: one token per chunk
        check_timestamps(r)
    assert_on_schedule([r.arrival_s for r in records], [i / 40 for i in range(20)])
    assert summary.result.server is not None and summary.result.engine is not None
    window = summary.result.server.window
    assert window is not None
    assert window.generation_tokens == 20 * 6
    assert window.prompt_tokens == 20 * 48
    assert summary.result.engine.prefix_hit_rate == 0.0  # unique prompts
    assert summary.result.engine.generation_tokens == 20 * 6
    assert summary.result.client is not None and summary.result.client.schedule_lag_s is not None
    assert summary.result.client.schedule_lag_s.count == 20
    assert summary.tokens.output_length_mismatched == 0
    assert summary.tokens.tokenizer_check is not None and summary.tokens.tokenizer_check.mismatched == 0
    assert summary.result.summary.num_requests == 20
    assert set(summary.confidence_intervals["ttft_s"]) == {"mean", "p50", "p90", "p99"}
    assert summary.result.provenance.seed == 0 and summary.result.provenance.workload_digest


def test_chat_ttft_waits_for_the_first_token_not_the_role_chunk(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(first_token_delay_s=0.08)) as server:
        code, _, _ = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--api", "chat", "--concurrency", "2", "--num-requests", "4"
            ),
            "--input-tokens",
            "30",
            "--output-tokens",
            "5",
            "--json",
        )
    assert code == 0
    summary, records = load_out(out)
    assert summary.load.prompt_overhead_tokens == 5  # the fake chat template
    for r in records:
        assert r.ok and r.output_tokens == 5 and len(r.chunk_times_s) == 5
        assert r.prompt_tokens == 30
        assert r.ttft_s is not None and r.ttft_s >= 0.08
        check_timestamps(r)


def test_closed_loop_reuses_connections_and_keeps_n_in_flight(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(token_delay_s=0.002)) as server:
        code, _, _ = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--concurrency", "3", "--num-requests", "15"),
            "--input-tokens",
            "20",
            "--output-tokens",
            "8",
            "--json",
        )
    assert code == 0
    summary, records = load_out(out)
    assert len(records) == 15 and all(r.ok for r in records)
    events = sorted([(r.arrival_s, 1) for r in records] + [(r.finish_s or 0.0, -1) for r in records])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert peak == 3
    assert summary.result.client is not None and summary.result.client.connections_opened == 3


def test_stale_keepalive_connection_is_resent_not_failed(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(close_reused_connections=True)) as server:
        code, _, _ = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--concurrency", "1", "--num-requests", "5"),
            "--input-tokens",
            "10",
            "--output-tokens",
            "3",
            "--json",
        )
    summary, records = load_out(out)
    assert code == 0 and all(r.ok for r in records) and len(records) == 5
    assert summary.result.client is not None
    assert summary.result.client.requests_resent_on_stale_connection >= 1


def test_closed_loop_users_wait_their_think_time(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(token_delay_s=0.001)) as server:
        code, _, stderr = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--concurrency", "1", "--think-time", "0.1"),
            "--num-requests",
            "4",
            "--input-tokens",
            "10",
            "--output-tokens",
            "3",
            "--json",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert summary.load.spec.think_time_s == 0.1 and summary.result.load == summary.load.spec
    ordered = sorted(records, key=lambda r: r.arrival_s)
    gaps = [b.arrival_s - a.finish_s for a, b in pairwise(ordered)]  # type: ignore[operator]
    assert len(gaps) == 3 and all(0.099 <= g < 0.15 for g in gaps), (
        gaps
    )  # asyncio timers may fire a hair early


def test_warmup_is_recorded_apart_and_excluded(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer() as server:
        code, _, _ = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--rate", "20", "--arrival", "constant", "--num-requests", "10"
            ),
            "--warmup-s",
            "0.2",
            "--input-tokens",
            "10",
            "--output-tokens",
            "3",
            "--json",
        )
    assert code == 0
    summary, records = load_out(out)
    warm = (out / "warmup.jsonl").read_text().splitlines()
    assert len(warm) == 4 and len(records) == 10
    assert summary.num_warmup == 4 and summary.result.summary.num_requests == 10
    assert min(r.arrival_s for r in records) >= 0.2 - 1e-3


def test_replay_with_time_scale_and_prefix_sharing(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shared = Workload(
        name="shared",
        hash_block_size=16,
        requests=tuple(
            RequestSpec(
                request_id=f"s{i}",
                arrival_s=0.1 * i,
                prompt_tokens=64,
                output_tokens=4,
                prefix_block_ids=(1, 2, 3, 100 + i),
            )
            for i in range(8)
        ),
    )
    path = tmp_path / "shared.jsonl"
    write_workload(shared, path)
    out = tmp_path / "out"
    with FakeOpenAIServer() as server:
        code, _, _ = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--workload", str(path), "--time-scale", "0.5"),
            "--json",
        )
    assert code == 0
    summary, records = load_out(out)
    assert_on_schedule([r.arrival_s for r in records], [0.05 * i for i in range(8)])
    # The fake server caches 16-word blocks: 7 of 8 requests hit the 3 shared blocks (48 tokens each).
    engine = summary.result.engine
    assert engine is not None and engine.prefix_hit_tokens == 7 * 48
    assert engine.prefix_hit_rate == pytest.approx(7 * 48 / (8 * 64))


def test_sweep_over_a_list_of_rates(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer() as server:
        code, stdout, _ = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--sweep", "20,40", "--num-requests", "8"),
            "--input-tokens",
            "10",
            "--output-tokens",
            "3",
            "--json",
        )
    assert code == 0
    sweep = load_result(out, SweepReport)
    assert [p.level for p in sweep.points] == [20, 40]
    assert json.loads(stdout) == sweep.model_dump(mode="json")
    for point in sweep.points:  # each level's own report loads from the path the sweep recorded
        assert point.result_path is not None and point.summary is not None
        level = load_result(out / point.result_path, BenchReport)
        assert level.result.summary == point.summary and len(level.result.records) == 8


# Faults: the run finishes, counts the failures, keeps every record, and says so. -----------------------


@pytest.mark.parametrize(
    "behaviour, extra, reason, message",
    [
        (Behaviour(fail_500_every=3), (), "error", "HTTP 500"),
        (Behaviour(stall_every=3), ("--timeout", "0.5"), "timeout", "timed out"),
        (Behaviour(drop_every=3), (), "error", "connection lost mid-response"),
        (Behaviour(malformed_every=3), (), "error", "malformed SSE"),
    ],
    ids=["http-500", "stall", "dropped-stream", "malformed-sse"],
)
def test_faults_are_counted_and_kept(
    capsys,
    tokenizer_path: str,
    tmp_path: Path,
    behaviour: Behaviour,
    extra: tuple[str, ...],
    reason: str,
    message: str,
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(behaviour) as server:
        code, stdout, stderr = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--concurrency", "3", "--num-requests", "12", *extra),
            "--input-tokens",
            "10",
            "--output-tokens",
            "5",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    failed = [r for r in records if not r.ok]
    assert len(records) == 12 and len(failed) == 4
    assert all(r.finish_reason == reason and r.error and message in r.error for r in failed)
    assert summary.errors.count == 4 and summary.result.summary.num_failed == 4
    assert not summary.valid and any("4 of 12 requests failed" in x for x in summary.reasons)
    assert "INVALID RUN" in stdout and "4 of 12 requests failed" in stdout
    assert "Traceback" not in stderr


def test_dropped_stream_keeps_the_tokens_that_arrived(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(drop_every=2)) as server:
        run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--concurrency", "1", "--num-requests", "2"),
            "--output-tokens",
            "6",
            "--json",
        )
    _, records = load_out(out)
    dropped = [r for r in records if not r.ok]
    assert len(dropped) == 1 and len(dropped[0].chunk_times_s) == 2 and dropped[0].output_tokens == 2


def test_server_dying_mid_run(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(die_after=5, token_delay_s=0.002)) as server:
        code, _, stderr = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--rate", "20", "--arrival", "constant", "--num-requests", "15"
            ),
            "--input-tokens",
            "10",
            "--output-tokens",
            "4",
            "--json",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert len(records) == 15
    # The first 5 finish unless the 6th arrives while one is still streaming (a slow machine): then the
    # dying server takes that one down too.
    assert 3 <= sum(r.ok for r in records) <= 5
    assert all(r.finish_reason == "error" for r in records if not r.ok)
    assert not summary.valid and summary.errors.count == 15 - sum(r.ok for r in records)
    assert summary.result.validity is not None
    assert any("scrapes failed" in w for w in summary.result.validity.warnings)


def test_api_key_is_sent_but_never_written(capsys, tokenizer_path: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    key = "sk-test-SECRET-4242"
    out = tmp_path / "out"
    monkeypatch.setenv("SLOTUNE_API_KEY", key)
    with FakeOpenAIServer(Behaviour(require_api_key=key)) as server:
        code, stdout, stderr = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, "--rate", "50", "--num-requests", "4"),
            "--output-tokens",
            "3",
        )
        assert code == 0
        assert all(h["authorization"] == f"Bearer {key}" for h in server.state.headers)
        monkeypatch.delenv("SLOTUNE_API_KEY")
        out2 = tmp_path / "out2"
        code2, stdout2, stderr2 = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out2, "--rate", "50", "--num-requests", "4"),
            "--api-key",
            key,
            "--json",
        )
        assert code2 == 0
        code3, _, stderr3 = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, tmp_path / "o3", "--rate", "5", "--num-requests", "1"),
            "--api-key",
            "wrong",
        )
    assert code3 == 2 and "api-key" in stderr3 and "wrong" not in stderr3
    texts = [stdout, stderr, stdout2, stderr2] + [p.read_text() for d in (out, out2) for p in d.iterdir()]
    assert not any(key in text for text in texts)
    assert (
        "<hidden>" in json.loads(stdout2)["result"]["provenance"]["extra"]["command"]
        or "--api-key" not in sys.argv
    )


@pytest.mark.parametrize(
    "args, field",
    [
        (["--rate", "0", "--num-requests", "3"], "rate"),
        (["--rate", "2", "--concurrency", "2", "--num-requests", "3"], "concurrency"),
        (["--rate", "2", "--arrival", "weibull", "--num-requests", "3"], "arrival"),
        (["--rate", "2", "--cv", "2", "--num-requests", "3"], "cv"),
        (["--rate", "2"], "num-requests"),
        (["--rate", "2", "--num-requests", "3", "--duration", "2"], "duration"),
        (["--concurrency", "2", "--num-requests", "3", "--model-typo"], None),
        (["--rate", "2", "--num-requests", "3", "--api", "embeddings"], "api"),
        (["--sweep", "1,x", "--num-requests", "3"], "sweep"),
        (["--rate", "2", "--num-requests", "3", "--slo", "ttft<2"], "slo"),
        (["--workload", "/nonexistent/file.jsonl"], "workload"),
        (["--rate", "2", "--num-requests", "3", "--event-loop", "gevent"], "event-loop"),
    ],
)
def test_bad_input_exits_2_naming_the_field(
    capsys, tokenizer_path: str, tmp_path: Path, args: list[str], field: str | None
) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer() as server:
        code, _, stderr = run_cli(capsys, *bench_args(server, tokenizer_path, tmp_path / "o", *args))
    assert code == 2
    if field is not None:
        assert f"{field}=" in stderr and "Fix:" in stderr
    assert "Traceback" not in stderr


def test_unknown_model_and_missing_tokenizer_exit_2(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(Behaviour(has_tokenize=False)) as server:
        args = ["--url", server.url, "--rate", "2", "--num-requests", "2"]
        code, _, stderr = run_cli(capsys, *args, "--model", "nope", "--tokenizer", tokenizer_path)
        assert code == 2 and "model='nope'" in stderr and "fake-model" in stderr
        code, _, stderr = run_cli(capsys, *args, "--model", server.model)
        assert code == 2 and "tokenizer=" in stderr and "--tokenizer" in stderr and "--model" in stderr
        assert "offers no /tokenize" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("api", ["completions", "chat"])
def test_without_tokenizer_the_servers_tokenize_gives_exact_prompt_lengths(
    capsys, tmp_path: Path, api: str
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    # The fake tokenizer splits words of more than six letters: only single-token words may build prompts.
    with FakeOpenAIServer(Behaviour(max_word_letters=6)) as server:
        code, _, stderr = run_cli(
            capsys,
            *["--url", server.url, "--model", server.model, "--out", str(out), "--api", api],
            *["--rate", "50", "--num-requests", "12", "--input-tokens", "200", "--output-tokens", "3"],
            *["--max-lag-ms", "1000"],
        )
        tokenize_calls = server.state.tokenize_calls
    assert code == 0, stderr
    summary, records = load_out(out)
    assert tokenize_calls == 3  # the candidate words, the premise check, the prompt overhead
    assert [r.prompt_tokens for r in records] == [200] * 12
    assert summary.tokens.prompt_length_mismatched == 0
    assert summary.tokens.tokenizer_check is None  # nothing local to recount with
    assert summary.result.validity is not None
    assert any("/tokenize" in w for w in summary.result.validity.warnings)


@pytest.mark.parametrize("has_tokenize", [False, True])
def test_a_local_model_folder_as_model_needs_no_tokenizer(
    capsys, tokenizer_path: str, tmp_path: Path, has_tokenize: bool
) -> None:  # type: ignore[no-untyped-def]
    """Words from the folder's tokenizer where the server has no /tokenize, from the server's where it has;
    either way the folder's tokenizer recounts the generated text."""
    import lzma

    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "tokenizer.json.xz").write_bytes(lzma.compress(Path(tokenizer_path).read_bytes(), preset=0))
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(has_tokenize=has_tokenize), model=str(folder)) as server:
        code, _, stderr = run_cli(
            capsys,
            *["--url", server.url, "--model", str(folder), "--out", str(out)],
            *["--concurrency", "2", "--num-requests", "6", "--input-tokens", "64", "--output-tokens", "3"],
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert [r.prompt_tokens for r in records] == [64] * 6
    assert summary.tokens.tokenizer_check is not None and summary.tokens.tokenizer_check.checked == 6
    assert summary.result.validity is not None
    assert any("/tokenize" in w for w in summary.result.validity.warnings) == has_tokenize


def test_unreachable_server_is_a_clear_error(capsys, tokenizer_path: str) -> None:  # type: ignore[no-untyped-def]
    code, _, stderr = run_cli(
        capsys, "--url", "http://127.0.0.1:9", "--model", "m", "--rate", "1", "--num-requests", "1"
    )
    assert code == 1 and "cannot reach the server" in stderr and "Traceback" not in stderr


def test_ctrl_c_keeps_what_was_measured(tokenizer_path: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(token_delay_s=0.05)) as server:
        cmd = [
            sys.executable,
            "-m",
            "slotune",
            "bench",
            *bench_args(server, tokenizer_path, out, "--concurrency", "2", "--duration", "60"),
        ]
        cmd += ["--output-tokens", "10", "--json"]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ}
        )
        deadline = time.time() + 30
        while time.time() < deadline and not (out / "records.jsonl").exists():
            time.sleep(0.05)
        while time.time() < deadline and len((out / "records.jsonl").read_text().splitlines()) < 3:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 3, stderr  # an interrupted run is invalid: exit 3 (--allow-invalid: 0)
    summary, records = load_out(out)
    assert json.loads(stdout)["interrupted"] is True and summary.interrupted is True
    assert not summary.valid and any("interrupted" in r for r in summary.reasons)
    assert len(records) == summary.result.num_requests >= 3
    aborted = [r for r in records if r.finish_reason == "abort"]
    assert len(aborted) == 2  # the two users' requests in flight at Ctrl-C, kept with what they received
    assert all(r.ok for r in records if r.finish_reason != "abort")


def test_automatic_concurrency_sweep_stops_when_throughput_stops_growing(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(token_delay_s=0.002)) as server:
        code, _, _ = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--sweep", "auto", "--concurrency", "4", "--num-requests", "8"
            ),
            "--input-tokens",
            "10",
            "--output-tokens",
            "4",
            "--json",
        )
    assert code == 0
    sweep = load_result(out, SweepReport)
    levels = [p.level for p in sweep.points]
    assert (
        sweep.sweep_kind == "concurrency" and levels[0] == 1 and levels == sorted(levels) and max(levels) <= 4
    )
    assert all((out / f"concurrency-{int(level)}" / "records.jsonl").is_file() for level in levels)


def test_preset_workload(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer() as server:
        code, _, stderr = run_cli(
            capsys,
            *bench_args(
                server,
                tokenizer_path,
                out,
                "--preset",
                "classification",
                "--concurrency",
                "4",
                "--num-requests",
                "6",
            ),
            "--json",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert len(records) == 6 and all(r.ok for r in records)
    assert summary.result.provenance.workload_name == "classification"


@pytest.mark.parametrize(
    "load", [["--rate", "100", "--arrival", "constant"], ["--concurrency", "4"]], ids=["open", "closed"]
)
def test_worker_processes_split_the_load_and_keep_the_schedule(
    capsys, tokenizer_path: str, tmp_path: Path, load: list[str]
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(token_delay_s=0.001)) as server:
        code, _, stderr = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, *load, "--num-requests", "30", "--workers", "2"),
            "--input-tokens",
            "16",
            "--output-tokens",
            "4",
            "--json",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert summary.result.client is not None
    assert summary.result.client.workers == 2 and len(summary.result.client.cpu_utilization) == 2
    assert len(records) == 30 and all(r.ok and r.output_tokens == 4 for r in records)
    assert len({r.request_id for r in records}) == 30
    if "--rate" in load:
        # Both processes' sends merge into the planned i / rate.
        assert_on_schedule([r.arrival_s for r in records], [i / 100 for i in range(30)])


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_both_event_loops_measure_the_same_things(
    capsys, tokenizer_path: str, tmp_path: Path, event_loop: str
) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip(event_loop)
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(first_token_delay_s=0.03, fail_500_every=5)) as server:
        code, _, stderr = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--rate", "50", "--arrival", "constant", "--num-requests", "10"
            ),
            "--input-tokens",
            "12",
            "--output-tokens",
            "4",
            "--event-loop",
            event_loop,
            "--json",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert summary.result.client is not None and summary.result.client.event_loop == event_loop
    assert len(records) == 10 and sum(not r.ok for r in records) == 2
    assert all(r.ttft_s is not None and r.ttft_s >= 0.03 and r.output_tokens == 4 for r in records if r.ok)


def test_unsolicited_408_on_an_idle_connection_is_not_a_response(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """nginx-style: the server times out an idle keep-alive connection with a 408 and closes it. The
    client must drop that connection, not hand the 408 to the next request."""
    out = tmp_path / "out"
    with FakeOpenAIServer(Behaviour(idle_408_after_s=0.05)) as server:
        code, _, stderr = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--rate", "8", "--arrival", "constant", "--num-requests", "5"
            ),
            "--input-tokens",
            "8",
            "--output-tokens",
            "2",
            "--json",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert len(records) == 5 and all(r.ok for r in records), [r.error for r in records]
    assert summary.result.client is not None and summary.result.client.connections_opened >= 5


def test_worker_processes_stream_large_batches_back(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Batches of finished requests larger than a pipe's buffer reach the parent whole (a watched pipe
    made non-blocking by uvloop used to fail mid-message)."""
    out = tmp_path / "out"
    with FakeOpenAIServer() as server:
        code, _, stderr = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, out, "--concurrency", "8", "--num-requests", "600", "--workers", "2"
            ),
            "--input-tokens",
            "8",
            "--output-tokens",
            "24",
            "--json",
        )
    assert code == 0, stderr
    summary, records = load_out(out)
    assert len(records) == 600 and all(r.ok and len(r.chunk_times_s) == 24 for r in records)
    assert summary.result.client is not None and summary.result.client.workers == 2
