"""`slotune bench --engine vllm` through its CLI, on the fake vLLM: launch, measure and stop in one command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import FAKE_VLLM_ROOT, HERE
from test_cli_bench import run_cli

from slotune.launch.process import group_members
from slotune.models.reports import BenchReport
from slotune.results import load_result, report_json

TOKENIZER = str(HERE.parent / "data" / "tokenizers" / "qwen3" / "tokenizer.json")


def vllm_args(model_dir: Path, out: Path, mode: str, *extra: str) -> list[str]:
    return [
        "--engine",
        "vllm",
        "--model",
        str(model_dir),
        "--vllm-python",
        sys.executable,
        "--vllm-env",
        f"PYTHONPATH={FAKE_VLLM_ROOT}",
        "--vllm-env",
        f"FAKE_VLLM_MODE={mode}",
        "--tokenizer",
        TOKENIZER,
        "--concurrency",
        "2",
        "--num-requests",
        "4",
        "--input-tokens",
        "16",
        "--output-tokens",
        "3",
        "--out",
        str(out),
        "--json",
        *extra,
    ]


def test_launch_measure_and_stop_in_one_command(
    capsys: pytest.CaptureFixture[str], model_dir: Path, tmp_path: Path, no_leftover_groups: list[int]
) -> None:
    out = tmp_path / "out"
    args = vllm_args(model_dir, out, "ok", "--max-num-seqs", "8", "--no-enable-prefix-caching")
    code, stdout, stderr = run_cli(capsys, *args, "--vllm-arg=--enable-prompt-tokens-details")
    assert code == 0, stderr
    report = load_result(out, BenchReport)
    assert json.loads(stdout) == report_json(report)
    result = report.result
    assert result.summary.num_ok == 4
    launch = result.launch
    assert launch is not None
    no_leftover_groups.append(launch.pid)
    assert result.provenance.backend == "vllm"
    assert result.provenance.engine_version == "vllm 0.25.0"
    assert result.provenance.model == model_dir.name  # served as the folder's name
    assert list(launch.argv[3:5]) == ["--model", str(model_dir)]
    tail = list(launch.argv[11:])
    assert tail == ["--max-num-seqs", "8", "--no-enable-prefix-caching", "--enable-prompt-tokens-details"]
    assert launch.facts.kv_cache_tokens == 906_208
    assert result.engine_config is not None and result.engine_config.max_num_seqs == 8
    assert Path(launch.log_path).parent == out  # the server's log is kept with the results
    assert group_members(launch.pid) == []


def test_a_failed_start_exits_1_with_vllms_reason(
    capsys: pytest.CaptureFixture[str], model_dir: Path, tmp_path: Path
) -> None:
    code, stdout, _ = run_cli(capsys, *vllm_args(model_dir, tmp_path / "out", "kv_too_small"))
    assert code == 1
    failure = json.loads(stdout)["launch_failure"]
    assert failure["kind"] == "kv_cache_too_small"
    assert "vLLM estimates that --max-model-len 2048 fits" in failure["fix"]
    assert not (tmp_path / "out" / "summary.json").exists()


def test_a_flag_the_installed_vllm_lacks_is_refused_before_launch(
    capsys: pytest.CaptureFixture[str], model_dir: Path, tmp_path: Path
) -> None:
    code, _, stderr = run_cli(
        capsys, *vllm_args(model_dir, tmp_path / "out", "ok", "--vllm-arg=--max-num-seq")
    )
    assert code == 2
    assert "vLLM 0.25.0 has no flag --max-num-seq" in stderr and "use --max-num-seqs" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--url", "http://127.0.0.1:1", "--model", "m", "--enforce-eager"], "add --engine vllm"),
        (["--model", "m"], "give --url"),
        (["--engine", "tgi", "--model", "m"], "use one of http, vllm"),
        (["--engine", "vllm", "--url", "http://127.0.0.1:1", "--model", "m"], "drop --url"),
        (["--engine", "vllm", "--model", "m", "--vllm-env", "NOVALUE"], "KEY=VALUE"),
    ],
)
def test_engine_option_errors(capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    code, _, stderr = run_cli(capsys, *args, "--num-requests", "1", "--concurrency", "1")
    assert code == 2 and says in stderr
