"""`slotune deploy` on the command line: printing a target, writing a folder, and exit-2 errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _deploy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slotune", "deploy", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def _engine_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "engine.yaml"
    path.write_text("model: meta-llama/Llama-3.1-8B-Instruct\nmax-model-len: 16384\nmax-num-seqs: 128\n")
    return path


def test_prints_the_target_and_writes_the_folder(tmp_path: Path) -> None:
    engine = _engine_yaml(tmp_path)
    printed = _deploy(str(engine), "--gpu", "h100", "--target", "vllm-cmd", "--slo", "interactive-chat")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("#!/usr/bin/env bash") and "--max-num-seqs 128" in printed.stdout
    out = tmp_path / "out"
    written = _deploy(
        str(engine), "--gpu", "h100", "--target", "k8s", "--replicas", "2", "--out", str(out), "--json"
    )
    assert written.returncode == 0, written.stderr
    decided = json.loads(written.stdout)
    assert decided["replicas"] == 2 and decided["autoscaling"]["max_replicas"] == 4
    assert [d["kind"] for d in yaml.safe_load_all((out / "k8s.yaml").read_text())] == [
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
        "ScaledObject",
    ]
    assert (out / "monitoring" / "slotune-rules.yaml").is_file()
    assert json.loads((out / "monitoring" / "grafana-dashboard.json").read_text())["panels"]


def test_errors_exit_2_and_name_the_flag(tmp_path: Path) -> None:
    engine = _engine_yaml(tmp_path)
    no_gpu = _deploy(str(engine))
    assert no_gpu.returncode == 2 and "--gpu" in no_gpu.stderr and "Traceback" not in no_gpu.stderr
    bad_target = _deploy(str(engine), "--gpu", "h100", "--target", "nomad")
    assert bad_target.returncode == 2 and "--target" in bad_target.stderr
    replicas = _deploy(str(engine), "--gpu", "h100", "--replicas", "3", "--max-replicas", "2")
    assert replicas.returncode == 2 and "--max-replicas" in replicas.stderr
    missing = _deploy(str(tmp_path / "nothing.json"), "--gpu", "h100")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_a_bad_engine_yaml_is_fixed_in_the_file_not_with_flags_deploy_lacks(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("max-num-seqs: 8\nno-such-flag: 3\n")
    bad_value = tmp_path / "bad_value.yaml"
    bad_value.write_text("max-num-seqs: -4\n")
    for path, said in ((unknown, "no-such-flag"), (bad_value, "max-num-seqs")):
        run = _deploy(str(path), "--gpu", "h100")
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        fix = run.stderr.split("Fix:", 1)[1]
        assert said in run.stderr and str(path.name) in " ".join(run.stderr.split())
        assert "--config" not in fix and "--max-num-seqs" not in fix, fix
