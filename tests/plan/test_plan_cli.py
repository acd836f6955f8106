"""`slotune plan` through the CLI: JSON contract, ranking, --explain, and bad input (exit 2, named field, fix)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from slotune.cli.main import main

DATA = Path(__file__).parents[1] / "data"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else 0
    return code, out.out, out.err


def test_json_has_the_contract_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", "--model", "llama-3.1-8b", "--gpu", "h100", "--json"], capsys)
    assert code == 0
    plan = json.loads(out)
    assert plan["kv"]["bytes_per_token"] == 131_072
    assert plan["weights"]["bytes"] == 2 * 8_030_261_248
    assert plan["verdict"]["min_tp"] == 1
    assert plan["kv"]["capacity_tokens"] > 400_000 and plan["kv"]["max_concurrency"] > 3
    assert plan["verdict"]["fits"] is True and plan["derivations"]
    assert set(plan) == {
        "model", "gpu", "tensor_parallel_size", "quantization", "profile", "verdict", "engine", "weights",
        "memory", "kv", "latency", "throughput", "cost", "derivations",
    }  # fmt: skip
    assert plan["profile"] == "default@1"


def test_a_configuration_that_does_not_fit_exits_0_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", "--model", "llama-3.1-405b", "--gpu", "l4", "--json"], capsys)
    assert code == 0
    plan = json.loads(out)
    assert plan["verdict"]["fits"] is False and plan["verdict"]["reasons"]


def test_human_output_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "plan",
            "--model",
            "deepseek-v3",
            "--gpu",
            "h200",
            "-tp",
            "8",
            "--max-model-len",
            "32k",
            "--explain",
        ],
        capsys,
    )
    assert code == 0
    assert "fits" in out and "How each number was computed" in out
    assert "kv_lora_rank" in out  # the MLA formula's inputs are shown


def test_workload_file_sets_the_lengths(capsys: pytest.CaptureFixture[str]) -> None:
    workload = DATA / "workload" / "azure_conv_slice.csv"
    code, out, _ = run(
        ["plan", "--model", "llama-3.1-8b", "--gpu", "h100", "--workload", str(workload), "--json"], capsys
    )
    assert code == 0
    plan = json.loads(out)
    latency = plan["latency"]
    assert latency["prompt_tokens_p99"] > latency["prompt_tokens_p50"] > 0
    assert latency["prompt_tokens_p50"] != 1024  # not the default
    assert not any("no workload" in note for note in plan["verdict"]["notes"])


def test_gpu_all_ranks_fitting_options_by_cost(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["plan", "--model", "llama-3.1-70b", "--gpu", "all", "--max-model-len", "16k", "--json"], capsys
    )
    assert code == 0
    options = json.loads(out)["options"]
    assert options and all(o["verdict"]["fits"] for o in options)
    costs = [o["cost"]["usd_per_mtok"] for o in options if o["cost"]["usd_per_mtok"] is not None]
    assert costs == sorted(costs)
    assert {o["gpu"] for o in options} >= {"h100-sxm", "h200", "b200"}
    assert "derivations" not in options[0]
    assert all(
        o["gpu"] != "l4" or o["tensor_parallel_size"] >= 4 for o in options
    )  # 70B does not fit 1-2 L4s


def test_gpu_all_with_slo_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["plan", "--model", "llama-3.1-8b", "--gpu", "all", "--quantization", "fp8", "--max-model-len", "8k",
         "--slo", "interactive-chat"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert "options that fit" in out and "SLO" in out


@pytest.mark.parametrize(
    ("args", "field", "hint"),
    [
        (["--model", "llama-3.1-9b", "--gpu", "h100"], "model='llama-3.1-9b'", "'llama-3.1-8b'"),
        (["--model", "llama-3.1-8b", "--gpu", "h1000"], "gpu='h1000'", "h100-sxm"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--gpu-memory-utilization", "1.2"],
         "gpu_memory_utilization=1.2", "(0, 1]"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "-tp", "3"], "tensor_parallel_size=3", "1, 2, 4, 8"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--max-model-len", "256K"], "max_model_len=262144", "131072"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--max-model-len", "lots"], "max_model_len='lots'", "32k"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--quantization", "int3"], "quantization='int3'", "awq"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--quantization", "mxfp4"], "quantization='mxfp4'", "MoE"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--kv-cache-dtype", "int4"], "kv_cache_dtype='int4'", "fp8"),
        (["--model", str(DATA / "configs" / "malformed-missing-hidden-size.json"), "--gpu", "h100"],
         "config.json:hidden_size", "hidden_size"),
        (["--model", str(DATA / "configs" / "malformed-truncated.json"), "--gpu", "h100"], "not valid JSON", "JSON"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--slo", "ttft:p99<fast"], "slo", "Fix:"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_field_value_and_fix(
    args: list[str], field: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["plan", *args], capsys)
    assert code == 2
    flat = " ".join(err.split())
    assert field in flat and hint in flat and "Fix:" in flat
    assert "Traceback" not in err and out == ""


def test_profile_sets_the_latency_coefficients(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = [
        "plan",
        "--model",
        "llama-3.1-70b",
        "--gpu",
        "h100",
        "-tp",
        "4",
        "--max-model-len",
        "8k",
        "--json",
    ]
    profile = tmp_path / "slow-links.yaml"
    profile.write_text(
        "name: slow-links\nversion: '7'\nprovenance: {method: test}\ncoefficients: {interconnect_efficiency: 0.5}\n"
    )
    code, out, _ = run([*base, "--profile", str(profile)], capsys)
    assert code == 0
    slow = json.loads(out)
    code, out, _ = run(base, capsys)
    default = json.loads(out)
    assert (slow["profile"], default["profile"]) == ("slow-links@7", "default@1")
    assert slow["latency"]["itl_by_batch_s"]["64"] > default["latency"]["itl_by_batch_s"]["64"]
    code, _, err = run([*base, "--profile", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "profile" in err and "default" in err


def test_real_process_exit_codes() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "slotune", "plan", "--model", "qwen3-30b-a3b", "--gpu", "h100", "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ok.returncode == 0 and json.loads(ok.stdout)["model"] == "qwen3-30b-a3b"
    bad = subprocess.run(
        [sys.executable, "-m", "slotune", "plan", "--model", "qwen3-30b-a3b", "--gpu", "tpu-v5"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "gpu='tpu-v5'" in bad.stderr and "Traceback" not in bad.stderr
