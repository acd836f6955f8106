"""Estimated effects are the planner's and the simulator's numbers for the configuration before and after the
fix (checked against direct calls), never constants; and the fixes carry exact values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from builders import (
    chat_log,
    dashboard,
    engine,
    manifest,
    rule_file,
    with_dashboard,
    with_k8s,
    with_model_gpu,
    with_requests,
    with_rules,
)

from slotune.audit import RULES_BY_ID, Evidence, audit_evidence
from slotune.audit.estimate import Estimator
from slotune.catalog import get_gpu, get_model
from slotune.launch.flags import OptionSpec, ParserSpec
from slotune.models import EngineConfig, Finding
from slotune.plan import plan_capacity
from slotune.simulate import Simulator


def _finding(rule_id: str, ev: Evidence) -> Finding:
    report = audit_evidence(ev, rules=[RULES_BY_ID[rule_id]])
    assert len(report.findings) == 1, report.rules
    return report.findings[0]


def _metric(f: Finding, name: str) -> tuple[float | None, float | None]:
    assert f.effect is not None
    m = next(m for m in f.effect.metrics if m.name == name)
    return m.before, m.after


@pytest.fixture
def shared_log(tmp_path: Path) -> Path:
    return chat_log(tmp_path / "log.jsonl", n=40)


def test_enabling_prefix_caching_is_the_simulators_two_runs(shared_log: Path) -> None:
    ev = with_model_gpu(
        with_requests(engine("vllm serve m --no-enable-prefix-caching --max-model-len 4096"), shared_log)
    )
    f = _finding("engine-prefix-caching-off", ev)
    assert f.effect is not None and f.effect.source == "simulator" and f.severity == "high"
    sim = Simulator(get_model("llama-3.1-8b"), get_gpu("h100"))
    runs = [
        sim.run(ev.requests.sample, ev.engine_config.model_copy(update={"enable_prefix_caching": on}))
        for on in (False, True)
    ]  # type: ignore[union-attr]
    assert _metric(f, "mean TTFT") == (runs[0].summary.ttft_s.mean, runs[1].summary.ttft_s.mean)
    before, after = _metric(f, "prefix cache hit rate")
    assert before == 0.0 and after == runs[1].engine.prefix_hit_rate and after is not None and after > 0.5  # type: ignore[union-attr]
    assert "enabling prefix caching: estimated prefix cache hit rate 0% ->" in f.effect.summary
    assert "the first 40 logged requests replayed at their logged times" in f.effect.basis


def test_without_a_gpu_the_prefix_estimate_is_the_workload_replay_and_says_what_is_missing(
    shared_log: Path,
) -> None:
    ev = with_requests(engine("--no-enable-prefix-caching"), shared_log)
    f = _finding("engine-prefix-caching-off", ev)
    assert f.effect is not None and f.effect.source == "workload"
    assert _metric(f, "prefix cache hit rate") == (
        0.0,
        ev.requests.sample_stats.prefix_reuse.unbounded_token_fraction,
    )  # type: ignore[union-attr]
    assert "--model and --gpu" in f.effect.basis


def test_a_fitted_max_model_len_and_the_planners_concurrency(shared_log: Path) -> None:
    ev = with_model_gpu(with_requests(engine("vllm serve m --max-model-len 32768"), shared_log))
    f = _finding("engine-max-model-len", ev)
    assert (
        f.fixes[0].target == "--max-model-len"
        and f.fixes[0].value == "1024"
        and f.fixes[0].current == "32768"
    )
    plans = [
        plan_capacity(
            get_model("llama-3.1-8b"),
            get_gpu("h100"),
            EngineConfig(model="m", max_model_len=n),
            workload=ev.requests.sample,
        )
        for n in (32768, 1024)
    ]  # type: ignore[union-attr]
    assert _metric(f, "max concurrency at max_model_len") == (
        plans[0].kv.max_concurrency,
        plans[1].kv.max_concurrency,
    )


def test_dynamic_text_first_estimate_simulates_the_reordered_prompts(tmp_path: Path) -> None:
    log = chat_log(tmp_path / "log.jsonl", n=40, dynamic_prefix=True)
    f = _finding("prompt-dynamic-prefix", with_model_gpu(with_requests(Evidence(), log)))
    assert f.effect is not None and f.effect.source == "simulator"
    before, after = _metric(f, "prefix cache hit rate")
    assert before is not None and after is not None and before < 0.05 < 0.5 < after
    ttft_before, ttft_after = _metric(f, "mean TTFT")
    assert ttft_before is not None and ttft_after is not None and ttft_after < ttft_before
    assert "Request" in str(f.observed["example varying text"])


def test_quantizing_a_70b_model_halves_its_gpus_as_the_planner_says() -> None:
    ev = with_model_gpu(engine("vllm serve meta-llama/Llama-3.1-70B-Instruct -tp 4"), model="llama-3.1-70b")
    f = _finding("model-unquantized", ev)
    fp8 = plan_capacity(get_model("llama-3.1-70b"), get_gpu("h100"), ev.engine_config, quantization="fp8")
    assert f.fixes[0].value == "fp8" and _metric(f, "GPUs needed") == (4.0, float(fp8.verdict.min_tp))


def test_fp32_weights_are_high_severity_with_the_bf16_fix() -> None:
    f = _finding("model-unquantized", with_model_gpu(engine("vllm serve m --dtype float32")))
    assert f.severity == "high" and f.fixes[0].value == "bfloat16"
    before, after = _metric(f, "weights per GPU")
    assert before == 2 * after  # type: ignore[operator]


def test_the_estimator_simulates_a_shared_baseline_once(shared_log: Path) -> None:
    ev = with_model_gpu(
        with_requests(engine("vllm serve m --enforce-eager --no-enable-prefix-caching"), shared_log)
    )
    audit_evidence(ev, rules=[RULES_BY_ID["engine-eager-mode"], RULES_BY_ID["engine-prefix-caching-off"]])
    assert len(ev.estimator._runs) == 3  # baseline, graphs on, caching on


def test_an_estimate_the_planner_refuses_says_why(shared_log: Path) -> None:
    estimator = Estimator(get_model("llama-3.1-8b"), get_gpu("h100"), None)
    refused = estimator.plan(EngineConfig(max_model_len=1_000_000))
    assert isinstance(refused, str) and "max_model_len" in refused
    assert (
        Estimator(None, None, None).missing(simulate=True)
        == "give --model and --gpu and --requests for an estimate"
    )


def test_removed_flags_are_judged_by_the_installed_parser_with_the_closest_flag() -> None:
    parser = ParserSpec(
        "0.32.0",
        {"--max-num-seqs": OptionSpec("max_num_seqs", True), "--block-size": OptionSpec("block_size", True)},
    )
    ev = replace(engine("vllm serve m --max-num-seq 8 --swap-space 4 --block-size 16"), parser=parser)
    f = _finding("engine-removed-flag", ev)
    assert f.confidence == "high" and [e.kind for e in f.evidence] == ["engine", "vllm"]
    by_flag = {fix.current: fix for fix in f.fixes}
    assert by_flag["--max-num-seq"].value == "--max-num-seqs"
    assert by_flag["--swap-space"].value is None and "V1 recomputes" in by_flag["--swap-space"].text


def test_monitoring_fixes_are_the_expression_with_the_name_or_threshold_replaced(tmp_path: Path) -> None:
    ev = with_rules(
        Evidence(),
        rule_file(
            tmp_path / "r.yaml", "sum(rate(vllm:num_preemptions[5m])) > 0", "vllm:gpu_cache_usage_perc > 0.9"
        ),
    )
    fixes = [f.fixes[0] for f in audit_evidence(ev, rules=[RULES_BY_ID["monitoring-metric-name"]]).findings]
    assert [x.value for x in fixes] == [
        "sum(rate(vllm:num_preemptions_total[5m])) > 0",
        "vllm:kv_cache_usage_perc > 0.9",
    ]
    assert [x.target for x in fixes] == ["groups[0].rules[0].expr", "groups[0].rules[1].expr"]
    q = "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m]))) > 0.3"
    d = with_dashboard(Evidence(), dashboard(tmp_path / "d.json", q))
    f = audit_evidence(d, rules=[RULES_BY_ID["monitoring-threshold-resolution"]]).findings[0]
    assert (
        f.fixes[0].value == q.replace("0.3", "0.25")
        and f.locations[0].pointer == "dashboard.panels[0].panels[0].targets[0].expr"
    )
    assert f.locations[0].line is not None


def test_a_live_scrape_names_dashboard_series_the_server_does_not_expose(tmp_path: Path) -> None:
    from builders import metrics_text, with_metrics

    d = with_dashboard(
        Evidence(), dashboard(tmp_path / "d.json", "rate(vllm:spec_decode_num_drafts_total[5m])")
    )
    quiet = audit_evidence(d, rules=[RULES_BY_ID["monitoring-metric-name"]])
    assert quiet.findings == ()
    live = audit_evidence(with_metrics(d, metrics_text()), rules=[RULES_BY_ID["monitoring-metric-name"]])
    assert [f.severity for f in live.findings] == ["low"] and "not in the live scrape" in live.findings[
        0
    ].message


def test_kubernetes_findings_point_at_the_container(tmp_path: Path) -> None:
    path = manifest(tmp_path / "k.yaml", cpu="2", liveness={"initialDelaySeconds": 30, "periodSeconds": 10})
    ev = with_k8s(Evidence(), path)
    probe = _finding("k8s-probe-budget", ev)
    assert (
        probe.fixes[0].value == "24" and probe.confidence == "low"
    )  # twice the assumed 120 s at 10 s periods
    loc = probe.locations[0]
    assert (
        loc.file == str(path)
        and loc.pointer == "spec.template.spec.containers[0].livenessProbe"
        and loc.line is not None
    )
    cpu = _finding("k8s-cpu", ev)
    assert cpu.fixes[0].value == "3"  # API server + engine core + one worker for one GPU


@pytest.mark.parametrize("version", ["0.25.0", "0.32.0"])
def test_flags_judged_by_real_vllm_parsers(version: str) -> None:
    """The parsers of vLLM 0.25.0 and 0.32.0 as dumped from the installations (tests/launch/data)."""
    import json

    dump = Path(__file__).parents[1] / "launch" / "data" / f"vllm_parser_{version}.json"
    parser = ParserSpec.from_dump(json.loads(dump.read_text()))
    line = "vllm serve m --max-model-len 8192 -O3 --compilation-config.mode=3 --disable-log-requests --num-scheduler-steps 8 --port 1"
    f = _finding("engine-removed-flag", replace(engine(line), parser=parser))
    assert [fix.current for fix in f.fixes] == ["--disable-log-requests", "--num-scheduler-steps"]
    assert f"vLLM {version}" in f.message
    clean = audit_evidence(
        replace(engine("vllm serve m --max-model-len 8192 -O3 --port 1 -tp 2"), parser=parser),
        rules=[RULES_BY_ID["engine-removed-flag"]],
    )
    assert clean.findings == ()
