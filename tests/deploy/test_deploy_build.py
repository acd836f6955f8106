"""From a saved result or an engine YAML to a Deployment: the source accessor, resolution, sizing, bucket advice."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from deploy_helpers import make_deployment

from slotune.cli.deploy import read_source
from slotune.deploy.build import DeployOptions, build_deployment, dns_label
from slotune.deploy.monitoring.buckets import advise, client_edges, custom_buckets
from slotune.errors import InputError
from slotune.metrics.summary import summarize
from slotune.models import EngineConfig, Provenance, RunResult, RunSummary
from slotune.models.deploy import DeploySource
from slotune.models.launch import StartupFacts
from slotune.models.reports import SimulationReport
from slotune.results import save_result
from slotune.slo import parse_slo, resolve_slo


def _summary() -> RunSummary:
    return summarize([], duration_s=1.0)


def test_a_simulation_result_carries_its_configuration_and_slo(tmp_path: Path) -> None:
    result = RunResult(
        provenance=Provenance(
            backend="simulator",
            slotune_version="x",
            model="llama-3.1-8b",
            gpu="h100",
            engine_version="vllm-v1 sim",
        ),
        engine_config=EngineConfig(max_num_seqs=96),
        slo=parse_slo("ttft:p99<200ms"),
        summary=_summary(),
    )
    path = save_result(SimulationReport(result=result), tmp_path / "sim")
    source = read_source(path)
    assert source.engine_config.max_num_seqs == 96
    assert (source.model, source.gpu, source.vllm_version) == ("llama-3.1-8b", "h100", "")
    assert source.slo is not None and source.origin == "simulate result result.json"


def test_an_engine_yaml_is_a_source(tmp_path: Path) -> None:
    path = tmp_path / "engine.yaml"
    path.write_text(
        "model: meta-llama/Llama-3.1-8B-Instruct\nmax-num-seqs: 64\nenable-prefix-caching: false\n"
    )
    source = read_source(path)
    assert source.engine_config.max_num_seqs == 64 and source.engine_config.enable_prefix_caching is False
    assert source.model == "meta-llama/Llama-3.1-8B-Instruct"


def test_a_launched_servers_timings_size_the_startup_probe() -> None:
    facts = StartupFacts(
        model_load_s=40.0, torch_compile_s=90.0, cuda_graph_capture_s=20.0, engine_init_s=15.0
    )
    estimated = make_deployment()
    source = DeploySource(
        engine_config=EngineConfig(max_model_len=32768),
        model="llama-3.1-8b",
        gpu="h100",
        startup=facts,
        origin="bench",
    )
    measured = build_deployment(source, DeployOptions(slo=resolve_slo("interactive-chat")))
    assert measured.startup.measured and not estimated.startup.measured
    assert measured.startup.compile_s == 90.0
    assert measured.startup.total_s >= (40 + 90 + 20 + 15) * 1.5


def test_every_replica_request_comes_from_the_plan() -> None:
    one = make_deployment(engine=EngineConfig(max_model_len=32768))
    four = make_deployment(
        model="llama-3.1-70b", engine=EngineConfig(max_model_len=32768, tensor_parallel_size=4)
    )
    assert one.resources.num_gpus == 1 and four.resources.num_gpus == 4
    assert four.resources.cpu_cores > one.resources.cpu_cores
    assert four.resources.memory_limit_bytes == four.resources.memory_request_bytes + four.resources.shm_bytes
    # The cache holds the 70B checkpoint (bf16, ~141 GB) with headroom.
    assert four.resources.cache_bytes > 141e9
    assert "--tensor-parallel-size" in four.vllm_args


def test_a_catalog_id_is_served_by_its_hugging_face_repository() -> None:
    d = make_deployment()
    assert d.model == "meta-llama/Llama-3.1-8B" and d.name == "llama-3-1-8b"
    assert dns_label("Org/Some_Model.v2") == "some-model-v2"


def test_missing_gpu_and_unknown_version_are_input_errors_naming_the_flag() -> None:
    with pytest.raises(InputError, match="--gpu"):
        make_deployment(gpu="")
    with pytest.raises(InputError, match="--vllm-version"):
        make_deployment(vllm_version="0.19.0")


def test_a_configuration_that_does_not_fit_is_refused() -> None:
    with pytest.raises(InputError, match="does not fit"):
        make_deployment(model="llama-3.1-70b", gpu="l4", engine=EngineConfig(max_model_len=8192))


def test_thresholds_become_bucket_edges_on_032_and_are_judged_strictly_on_025() -> None:
    slo = parse_slo("ttft:p99<200ms;itl:p99<50ms;tpot:p90<30ms")
    custom = custom_buckets(slo, "0.32.0")
    assert 0.2 in custom["time_to_first_token"]
    assert 0.03 in custom["inter_token_latency"] and 0.05 in custom["inter_token_latency"]
    advice = {a.metric: a for a in advise(slo, "0.32.0", custom)}
    assert all(a.is_edge for a in advice.values())
    old = {a.metric: a for a in advise(slo, "0.25.0", custom_buckets(slo, "0.25.0"))}
    assert custom_buckets(slo, "0.25.0") == {}
    assert old["ttft"].judged_at_s == 0.1 and not old["ttft"].is_edge  # the edge below 0.2 s
    assert old["itl"].is_edge and old["itl"].judged_at_s == 0.05
    assert "--vllm-version" in old["ttft"].note


def test_ttft_and_e2e_thresholds_get_a_ladder_of_edges_where_watch_judges_clients() -> None:
    """watch judges TTFT/E2E at T - (the API server's time outside vLLM's interval, a few ms): on 0.32 the
    server gets edges 1-20 ms under each such threshold, also where T is already a default edge; ITL is not
    shifted and keeps its defaults; 0.25 takes no custom buckets and says so."""
    slo = parse_slo("ttft:p50<40ms;e2e:p90<1s;itl:p90<50ms")
    custom = custom_buckets(slo, "0.32.0")
    ttft = custom["time_to_first_token"]
    for edge in (0.039, 0.038, 0.037, 0.035, 0.03, 0.025, 0.04, 0.02, 0.06):
        assert any(abs(edge - e) < 1e-12 for e in ttft), edge
    assert min(e for e in ttft if e > 0.02) == 0.025  # the ladder's lowest edge: 20 ms under 40
    assert all(a < b for a, b in pairwise(ttft)), "vLLM refuses edges that do not increase"
    assert {0.98, 0.99, 0.999, 1.0} <= set(custom["request_latency"])
    assert "inter_token_latency" not in custom  # 50 ms is a default ITL edge and ITL is not shifted
    assert client_edges(0.004) == (0.003,)  # never below half the threshold
    tiny = parse_slo("ttft:p99<2ms")  # no ladder fits under 2 ms: the threshold alone, and a note without one
    assert client_edges(0.002) == ()
    (tiny_advice,) = advise(tiny, "0.32.0", custom_buckets(tiny, "0.32.0"))
    assert tiny_advice.is_edge and "under it" not in tiny_advice.note
    advice = {a.metric: a for a in advise(slo, "0.32.0", custom)}
    assert "0.025-0.039 s under it" in advice["ttft"].note and advice["ttft"].is_edge
    old = {a.metric: a for a in advise(slo, "0.25.0", custom_buckets(slo, "0.25.0"))}
    assert "takes no custom buckets" in old["ttft"].note and "deploy on 0.32+" in old["ttft"].note


def test_a_tune_report_deploys_its_recommendation(tmp_path: Path) -> None:
    """The tune report gives its recommendation through the same accessor as any run."""
    from slotune.models import LoadSpec
    from slotune.tune import TuneOptions, tune
    from slotune.workload.io import read_workload

    report = tune(
        TuneOptions(
            model="llama-3.1-8b",
            gpus=["h100"],
            workload=read_workload(Path(__file__).parents[1] / "data" / "azure_conv_replay_20.csv"),
            slo=resolve_slo("interactive-chat"),
            load=LoadSpec(kind="rate", rate_rps=1.0, arrival="trace", num_requests=60),
            storage=f"sqlite:///{tmp_path / 'study.db'}",
            budget=4,
            tiers=[2],
            grid=False,
        )
    )
    assert report.recommendation is not None
    source = read_source(save_result(report, tmp_path / "tune"))
    point = report.recommendation.point
    assert source.engine_config.max_num_seqs == point.engine_config.max_num_seqs
    assert (source.model, source.gpu, source.slo) == (
        point.candidate.model,
        point.candidate.gpu,
        report.inputs.slo,
    )
    deployment = build_deployment(source, DeployOptions())
    assert deployment.replicas == point.candidate.replicas
    assert deployment.slo == report.inputs.slo
