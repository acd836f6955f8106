"""`slotune bench --gpu`: a measured run priced at the user's (or the catalog's) GPU price, every GPU paid for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_server import FakeOpenAIServer
from test_cli_bench import bench_args, run_cli

from slotune.models.reports import BenchReport
from slotune.results import load_result

LOAD = ("--rate", "40", "--arrival", "constant", "--num-requests", "8", "--input-tokens", "30",
        "--output-tokens", "5", "--max-lag-ms", "1000")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_default_prices_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLOTUNE_PRICES", raising=False)


def test_bench_with_gpu_prices_every_gpu_and_saves_the_price(
    capsys: pytest.CaptureFixture[str], tokenizer_path: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with FakeOpenAIServer() as server:
        code, stdout, _ = run_cli(
            capsys,
            *bench_args(server, tokenizer_path, out, *LOAD),
            "--gpu", "h100", "--num-gpus", "2", "--price", "h100=1.5", "--slo", "ttft:p99<10s", "--json",
        )  # fmt: skip
    assert code == 0
    report = load_result(out, BenchReport)
    summary = report.result.summary
    cost = summary.cost
    assert cost is not None and cost.price is not None and cost.price.source == "--price"
    assert (cost.num_gpus, cost.usd_per_hour, cost.request_basis) == (2, 3.0, "goodput")
    assert cost.usd_per_mtok == pytest.approx(3.0 / (summary.output_tokens_per_s * 3600) * 1e6)
    assert cost.usd_per_request == pytest.approx(3.0 / 3600 / (summary.goodput_rps or 0))
    assert report.result.provenance.gpu == "h100-sxm"
    assert json.loads(stdout)["result"]["summary"]["cost"]["price"]["source"] == "--price"


def test_bench_without_gpu_says_why_there_is_no_cost(
    capsys: pytest.CaptureFixture[str], tokenizer_path: str, tmp_path: Path
) -> None:
    with FakeOpenAIServer() as server:
        code, stdout, _ = run_cli(capsys, *bench_args(server, tokenizer_path, tmp_path / "a", *LOAD))
        assert code == 0 and "cost: none: the server's GPUs are unknown: give --gpu" in stdout
        code, stdout, _ = run_cli(
            capsys, *bench_args(server, tokenizer_path, tmp_path / "b", *LOAD), "--gpu", "l4"
        )
        assert code == 0 and "RunPod, on-demand, 2026-03 (catalog" in " ".join(stdout.split())


@pytest.mark.parametrize(
    ("extra", "field", "hint"),
    [
        (("--price", "h100=1.5"), "--price", "give --gpu ID too"),
        (("--num-gpus", "4"), "--num-gpus", "give --gpu ID too"),
        (("--gpu", "a100-40gb", "--slo", "cost<5"), "price='a100-40gb'", "cost target"),
        (("--slo", "cost<5"), "gpu=None", "cost target"),
        (("--gpu", "h100", "--num-gpus", "0"), "num-gpus=0", "1 or more"),
    ],
)
def test_bench_price_mistakes_exit_2_before_any_request(
    capsys: pytest.CaptureFixture[str], tokenizer_path: str, tmp_path: Path, extra: tuple[str, ...], field: str,
    hint: str,
) -> None:  # fmt: skip
    with FakeOpenAIServer() as server:
        code, _, err = run_cli(capsys, *bench_args(server, tokenizer_path, tmp_path / "out", *LOAD), *extra)
        sent = server.state.requests
    assert code == 2 and field in err and hint in err, err
    assert sent == 0
