"""What `bench` refuses or warns about before it measures: an output path that is a file, requests longer than the
server's context, a seed the server has already been sent; and the exit code of an invalid run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fake_server import Behaviour, FakeOpenAIServer
from test_cli_bench import bench_args, load_out, run_cli

from slotune.bench import seed_history
from slotune.bench.sweep import level_seed

FIXED = ("--rate", "50", "--arrival", "constant", "--num-requests", "4", "--output-tokens", "4")


def test_an_invalid_run_exits_3_unless_allowed(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(Behaviour(fail_500_every=2)) as server:
        code, _, err = run_cli(
            capsys, *bench_args(server, tokenizer_path, tmp_path / "a", *FIXED), allow_invalid=False
        )
        assert code == 3 and "--allow-invalid" in err
        code, _, _ = run_cli(capsys, *bench_args(server, tokenizer_path, tmp_path / "b", *FIXED))
        assert code == 0
    assert not load_out(tmp_path / "b")[0].valid


def test_out_at_an_existing_file_is_refused_before_any_request(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    taken = tmp_path / "results.json"
    taken.write_text("mine")
    with FakeOpenAIServer() as server:
        code, _, err = run_cli(capsys, *bench_args(server, tokenizer_path, taken, *FIXED))
        assert server.state.requests == 0
    assert code == 2 and "--out=" in err and "is a file" in err and "Fix:" in err
    assert taken.read_text() == "mine"


def test_prompts_longer_than_the_context_are_refused_or_clipped(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(Behaviour(max_model_len=64)) as server:
        args = (*FIXED, "--input-tokens", "100")
        code, _, err = run_cli(capsys, *bench_args(server, tokenizer_path, tmp_path / "a", *args))
        assert code == 2 and server.state.requests == 0
        assert "max_model_len 64" in err and "--clip-prompts" in err and "1 of 1 workload requests" in err
        code, _, _ = run_cli(
            capsys, *bench_args(server, tokenizer_path, tmp_path / "b", *args, "--clip-prompts")
        )
        assert code == 0 and server.state.requests == 4
    report, records = load_out(tmp_path / "b")
    assert all(r.ok and r.prompt_tokens + r.output_tokens <= 64 for r in records)
    assert [r.prompt_tokens for r in records] == [60] * 4
    assert any("shortened to fit" in w for w in report.result.validity.warnings)  # type: ignore[union-attr]


def _warnings(out: Path) -> list[str]:
    validity = load_out(out)[0].result.validity
    assert validity is not None
    return list(validity.warnings)


def test_a_repeated_seed_against_the_same_server_is_warned(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer() as server:
        for name, seed in (("first", "7"), ("again", "7"), ("fresh", "8")):
            code, _, _ = run_cli(
                capsys, *bench_args(server, tokenizer_path, tmp_path / name, *FIXED, "--seed", seed)
            )
            assert code == 0
    assert not any("already ran --seed" in w for w in _warnings(tmp_path / "first"))
    repeated = [w for w in _warnings(tmp_path / "again") if "already ran --seed 7" in w]
    assert len(repeated) == 1 and "--seed 8" in repeated[0]  # the next seed this server has not seen
    assert not any("already ran" in w for w in _warnings(tmp_path / "fresh"))
    with FakeOpenAIServer() as other:  # another server (another URL) has not seen seed 7
        code, _, _ = run_cli(
            capsys, *bench_args(other, tokenizer_path, tmp_path / "other", *FIXED, "--seed", "7")
        )
    assert code == 0 and not any("already ran" in w for w in _warnings(tmp_path / "other"))


def test_a_restarted_server_is_not_warned() -> None:
    url, model = "http://127.0.0.1:1", "m"
    seed_history.remember(url, model, 3, server_prompt_tokens=5_000.0)
    assert seed_history.earlier_use(url, model, 3, server_prompt_tokens=6_000.0) is not None  # same process
    assert (
        seed_history.earlier_use(url, model, 3, server_prompt_tokens=100.0) is None
    )  # counter reset: restarted
    assert seed_history.earlier_use(url, model, 3, server_prompt_tokens=None) is not None  # cannot tell: warn
    assert seed_history.earlier_use(url, model, 4, server_prompt_tokens=6_000.0) is None
    assert seed_history.unused_seed(url, model) == 4


def test_the_history_survives_a_damaged_file(own_cache_dir: Path) -> None:
    own_cache_dir.mkdir(parents=True)
    seed_history.history_path().write_text('{"url": "x"\nnot json\n')
    seed_history.remember("http://h", "m", 1, None)
    assert seed_history.earlier_use("http://h", "m", 1, None) is not None


def test_sweep_levels_have_their_own_seeds_and_a_csv_table(
    capsys, tokenizer_path: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    table = tmp_path / "sweep.csv"
    with FakeOpenAIServer() as server:
        code, _, _ = run_cli(
            capsys,
            *bench_args(
                server, tokenizer_path, tmp_path / "sweep", "--sweep", "20,40", "--num-requests", "4"
            ),
            "--output-tokens",
            "4",
            "--slo",
            "ttft:p99<5s",
            "--seed",
            "5",
            "--csv",
            str(table),
        )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [float(r["level"]) for r in rows] == [20.0, 40.0]
    assert {"goodput_rps", "slo_attainment", "ttft_p99_s", "result_path"} <= set(rows[0])
    seeds = [
        json.loads((tmp_path / "sweep" / r["result_path"] / "result.json").read_text())["result"][
            "provenance"
        ]["seed"]
        for r in rows
    ]
    assert seeds == [5, level_seed(5, 1)] and seeds[1] != 5
    # No level was warned about the one before it: each sent its own prompts.
    assert not any("already ran" in w for r in rows for w in _warnings(tmp_path / "sweep" / r["result_path"]))


def test_csv_without_a_sweep_is_refused(capsys, tokenizer_path: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer() as server:
        code, _, err = run_cli(
            capsys, *bench_args(server, tokenizer_path, tmp_path / "a", *FIXED, "--csv", "t.csv")
        )
    assert code == 2 and "--sweep" in err
