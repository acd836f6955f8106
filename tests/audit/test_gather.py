"""From files and names to evidence: where the engine flags and the vLLM version come from when not given."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import bench_report, chat_log, launch_info, manifest

from slotune.audit import AuditInputs, audit, gather
from slotune.errors import InputError
from slotune.results import save_result


def test_flags_come_from_the_manifest_then_from_a_benchmarks_launch(tmp_path: Path) -> None:
    k8s = manifest(
        tmp_path / "k.yaml", args=["vllm", "serve", "Qwen/Qwen3-8B", "--enforce-eager", "-tp", "2"], gpus=2
    )
    ev, _ = gather(AuditInputs(k8s=(k8s,)))
    assert (
        ev.engine is not None
        and ev.engine.config.enforce_eager
        and ev.engine.config.tensor_parallel_size == 2
    )
    assert (
        ev.engine.source.endswith("Deployment/vllm container vllm")
        and ev.model is not None
        and ev.model.name == "qwen3-8b"
    )
    bench = save_result(bench_report(launch=launch_info(50.0)), tmp_path / "bench")
    ev, notes = gather(AuditInputs(bench=(bench,)))
    assert ev.engine is not None and ev.engine.config.model == "m"
    assert ev.vllm_version == "0.32.0" and ev.vllm_version_source == str(bench)
    assert any("'m' is not in slotune's catalog" in n for n in notes)


def test_the_version_given_wins_and_an_uncatalogued_one_is_bad_input(tmp_path: Path) -> None:
    ev, _ = gather(AuditInputs(vllm_version="0.25"))
    assert ev.vllm_version == "0.25.0" and ev.vllm_version_source == "--vllm-version"
    with pytest.raises(InputError, match="vllm_version"):
        gather(AuditInputs(vllm_version="0.7"))
    ev, notes = gather(AuditInputs())
    assert ev.present() == () and "newest" in ev.vllm_version_source and notes


def test_engine_flags_once_and_gpus_with_their_gpu(tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text("max-model-len: 4096\n")
    with pytest.raises(InputError, match="not both"):
        gather(AuditInputs(engine_args="--max-num-seqs 4", config=tmp_path / "v.yaml"))
    with pytest.raises(InputError, match="--gpu"):
        audit(AuditInputs(num_gpus=2))
    with pytest.raises(InputError, match="bench"):
        gather(AuditInputs(bench=(save_result(_workload_report(tmp_path), tmp_path / "w.json"),)))


def _workload_report(tmp_path: Path):  # type: ignore[no-untyped-def]
    from slotune.workload import analyze, read_workload
    from slotune.workload.report import workload_report

    path = chat_log(tmp_path / "log.jsonl", n=5)
    workload = read_workload(path)
    return workload_report(workload, analyze(workload), block_size=16, source_path=str(path))


def test_every_piece_of_evidence_is_named_with_its_source(tmp_path: Path) -> None:
    log = chat_log(tmp_path / "log.jsonl", n=10)
    report = audit(
        AuditInputs(
            engine_args="vllm serve llama-3.1-8b --enforce-eager",
            requests=log,
            gpu="h100",
            num_gpus=1,
            slo="interactive-chat",
        )
    )
    sources = {e.kind: e.source for e in report.evidence}
    assert sources == {
        "engine": "--engine-args",
        "requests": str(log),
        "slo": "interactive-chat",
        "gpu": "--gpu h100 x1",
        "model": "llama-3.1-8b",
    }


def test_a_file_that_is_not_text_is_bad_input_named_by_its_flag(tmp_path: Path) -> None:
    binary = tmp_path / "evidence.bin"
    binary.write_bytes(bytes(range(256)))
    for inputs, flag in (
        (AuditInputs(k8s=(binary,)), "--k8s"),
        (AuditInputs(prometheus_rules=(binary,)), "--prometheus-rules"),
        (AuditInputs(grafana=(binary,)), "--grafana"),
    ):
        with pytest.raises(InputError, match="not UTF-8 text") as info:
            gather(inputs)
        assert info.value.field == flag


def test_a_request_log_of_no_known_format_names_requests_format(tmp_path: Path) -> None:
    unknown = tmp_path / "requests.txt"
    unknown.write_text("neither,a,trace\nnor,a,log\n")
    with pytest.raises(InputError) as info:
        gather(AuditInputs(requests=unknown))
    assert info.value.field == "--requests-format" and "--requests-format" in info.value.fix
    assert "--format " not in info.value.fix  # audit's --format is its output's
