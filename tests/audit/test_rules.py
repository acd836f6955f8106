"""Every registered rule, on evidence that must fire it and on evidence of the same kind that must not.

The quiet evidence differs from the firing one in the fact the rule judges (a flag's value, a length, a count),
so a rule that always fires, or never does, fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from builders import (
    STATIC,
    bench_report,
    chat_log,
    chat_slo,
    dashboard,
    engine,
    manifest,
    metrics_text,
    rule_file,
    server_window,
    with_bench,
    with_dashboard,
    with_k8s,
    with_metrics,
    with_model_gpu,
    with_requests,
    with_rules,
)

from slotune.audit import RULES, RULES_BY_ID, Evidence, audit_evidence
from slotune.models.audit import AuditReport

Build = Callable[[Path], Evidence]
LLAMA_70B = "vllm serve meta-llama/Llama-3.1-70B-Instruct -tp 4"
LLAMA_8B = "vllm serve meta-llama/Llama-3.1-8B-Instruct"
QUANTILE = "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"


def _log(tmp: Path, **kwargs: object) -> Path:
    return chat_log(tmp / "log.jsonl", **kwargs)  # type: ignore[arg-type]


def _short_answers(tmp: Path, model: str, temperature: float = 0.0) -> Evidence:
    ev = with_requests(engine(LLAMA_70B), _log(tmp, completion=3, max_tokens=8, temperature=temperature))
    return with_model_gpu(ev, model=model)


def _model_engine_gpu(text: str, model: str, tp: int | None = None) -> Evidence:
    return with_model_gpu(engine(text), model=model)


def _bench(**kwargs: object) -> Evidence:
    return with_bench(Evidence(), bench_report(**kwargs))  # type: ignore[arg-type]


CASES: dict[str, tuple[Build, Build]] = {
    "model-oversized-for-task": (
        lambda t: _short_answers(t, "llama-3.1-70b"),
        lambda t: _short_answers(t, "llama-3.1-8b"),
    ),
    "model-unquantized": (
        lambda t: _model_engine_gpu(LLAMA_70B, "llama-3.1-70b"),  # fp8 fits 2 GPUs instead of 4
        lambda t: _model_engine_gpu(LLAMA_8B, "llama-3.1-8b"),  # fp8 gains < 1.5x KV on one H100
    ),
    "model-moe-not-considered": (
        lambda t: _model_engine_gpu(LLAMA_70B, "llama-3.1-70b"),
        lambda t: _model_engine_gpu(LLAMA_8B, "llama-3.1-8b"),
    ),
    "engine-gpu-memory-utilization-high": (
        lambda t: engine("--gpu-memory-utilization 0.99"),
        lambda t: engine("--gpu-memory-utilization 0.92"),
    ),
    "engine-max-model-len": (
        lambda t: with_requests(engine("--max-model-len 32768"), _log(t)),
        lambda t: with_requests(engine("--max-model-len 1024"), _log(t)),
    ),
    "engine-eager-mode": (lambda t: engine("--enforce-eager"), lambda t: engine("--max-num-seqs 64")),
    "engine-prefix-caching-off": (
        lambda t: engine("--no-enable-prefix-caching"),
        lambda t: engine("--enable-prefix-caching"),
    ),
    "engine-chunked-prefill-off": (
        lambda t: engine("--no-enable-chunked-prefill --max-model-len 8192"),
        lambda t: engine("--enable-chunked-prefill --max-model-len 8192"),
    ),
    "engine-batch-budget-below-max-model-len": (
        lambda t: engine("--no-enable-chunked-prefill --max-num-batched-tokens 2048 --max-model-len 8192"),
        lambda t: engine("--no-enable-chunked-prefill --max-num-batched-tokens 8192 --max-model-len 8192"),
    ),
    "engine-removed-flag": (lambda t: engine("--swap-space 4"), lambda t: engine("--max-num-seqs 128")),
    "prompt-long-system-prompt": (
        lambda t: with_requests(Evidence(), _log(t, system=STATIC * 3)),
        lambda t: with_requests(Evidence(), _log(t)),
    ),
    "prompt-dynamic-prefix": (
        lambda t: with_requests(Evidence(), _log(t, dynamic_prefix=True)),
        lambda t: with_requests(Evidence(), _log(t)),
    ),
    "prompt-no-stop": (
        lambda t: with_requests(Evidence(), _log(t, completion=256, max_tokens=256)),
        lambda t: with_requests(Evidence(), _log(t, completion=256, max_tokens=256, stop=["}"])),
    ),
    "prompt-max-tokens-high": (
        lambda t: with_requests(Evidence(), _log(t, completion=40, max_tokens=1024)),
        lambda t: with_requests(Evidence(), _log(t, completion=40, max_tokens=64)),
    ),
    "prompt-sampling-on-deterministic-task": (
        lambda t: with_requests(Evidence(), _log(t, completion=3, max_tokens=8, temperature=0.7)),
        lambda t: with_requests(Evidence(), _log(t, completion=3, max_tokens=8, temperature=0.0)),
    ),
    "infra-cpu-bottleneck": (
        lambda t: with_metrics(Evidence(), metrics_text(ttft=(20.0, 100))),  # 200 ms TTFT, 50 ms of it in the engine
        lambda t: with_metrics(Evidence(), metrics_text(ttft=(6.0, 100))),
    ),
    "infra-network-latency": (
        lambda t: _bench(client_ttft_s=0.2, server=server_window(0.05, 0.01, 0.03)),
        lambda t: _bench(client_ttft_s=0.055, server=server_window(0.05, 0.01, 0.03)),
    ),
    "infra-tp-gpu-mismatch": (
        lambda t: with_model_gpu(engine("-tp 2"), num_gpus=4),
        lambda t: with_model_gpu(engine("-tp 2"), num_gpus=2),
    ),
    "k8s-cpu": (
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", cpu="2")),
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", cpu="8")),
    ),
    "k8s-dev-shm": (
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", shm=False)),
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", shm=True)),
    ),
    "k8s-probe-budget": (
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", liveness={"initialDelaySeconds": 30, "periodSeconds": 10})),
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", startup={"periodSeconds": 10, "failureThreshold": 60})),
    ),
    "k8s-autoscale-gpu-utilization": (
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", hpa_metric={"type": "Pods", "pods": {"metric": {"name": "DCGM_FI_DEV_GPU_UTIL"}, "target": {"type": "AverageValue", "averageValue": "80"}}})),
        lambda t: with_k8s(Evidence(), manifest(t / "k.yaml", hpa_metric={"type": "Pods", "pods": {"metric": {"name": "vllm:num_requests_waiting"}, "target": {"type": "AverageValue", "averageValue": "4"}}})),
    ),
    "bench-no-slo": (lambda t: _bench(slo=None), lambda t: _bench(slo=chat_slo())),
    "bench-no-warmup": (lambda t: _bench(warmup_s=0.0), lambda t: _bench(warmup_s=30.0)),
    "bench-lengths-unlike-production": (
        lambda t: with_requests(_bench(prompt_tokens=20_000, output_tokens=400), _log(t)),
        lambda t: with_requests(_bench(prompt_tokens=4_500, output_tokens=400), _log(t)),
    ),
    "metrics-preemptions": (
        lambda t: with_metrics(Evidence(), metrics_text(preemptions=10)),
        lambda t: with_metrics(Evidence(), metrics_text(preemptions=0)),
    ),
    "metrics-kv-saturated-queue": (
        lambda t: with_metrics(Evidence(), metrics_text(kv_usage=0.95, waiting=3)),
        lambda t: with_metrics(Evidence(), metrics_text(kv_usage=0.95, waiting=0)),
    ),
    "metrics-low-prefix-hit-rate": (
        lambda t: with_requests(with_metrics(Evidence(), metrics_text(hits=50, queries=1000)), _log(t)),
        lambda t: with_requests(with_metrics(Evidence(), metrics_text(hits=800, queries=1000)), _log(t)),
    ),
    "monitoring-metric-name": (
        lambda t: with_rules(Evidence(), rule_file(t / "r.yaml", "rate(vllm:num_preemptions[5m]) > 0")),
        lambda t: with_rules(Evidence(), rule_file(t / "r.yaml", "rate(vllm:num_preemptions_total[5m]) > 0")),
    ),
    "monitoring-quantile-without-rate": (
        lambda t: with_dashboard(Evidence(), dashboard(t / "d.json", "histogram_quantile(0.99, vllm:time_to_first_token_seconds_bucket)")),
        lambda t: with_dashboard(Evidence(), dashboard(t / "d.json", QUANTILE)),
    ),
    "monitoring-threshold-resolution": (
        lambda t: with_rules(Evidence(), rule_file(t / "r.yaml", QUANTILE + " > 0.3")),
        lambda t: with_rules(Evidence(), rule_file(t / "r.yaml", QUANTILE + " > 0.25")),
    ),
    "flying-blind": (lambda t: engine("--max-num-seqs 64"), lambda t: replace(engine("--max-num-seqs 64"), slo=chat_slo())),
}  # fmt: skip


def _run(rule_id: str, evidence: Evidence) -> AuditReport:
    return audit_evidence(evidence, rules=[RULES_BY_ID[rule_id]])


def test_every_registered_rule_has_a_firing_and_a_quiet_case() -> None:
    assert set(CASES) == {rule.id for rule in RULES}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_fires_on_its_evidence(rule_id: str, tmp_path: Path) -> None:
    report = _run(rule_id, CASES[rule_id][0](tmp_path))
    assert [o.status for o in report.rules] == ["fired"]
    assert report.findings and all(f.rule_id == rule_id for f in report.findings)
    rule = RULES_BY_ID[rule_id]
    for finding in report.findings:
        assert finding.layer == rule.layer and finding.title == rule.title
        assert finding.fixes, "every finding names the change that fixes it"
        assert all(fix.text for fix in finding.fixes)
        assert finding.message
        if rule.needs:  # flying-blind rests on what is missing
            assert finding.evidence, "every finding names the evidence it used"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_stays_quiet_on_evidence_without_the_problem(rule_id: str, tmp_path: Path) -> None:
    report = _run(rule_id, CASES[rule_id][1](tmp_path))
    assert [o.status for o in report.rules] == ["passed"], report.rules
    assert report.findings == ()


def test_a_rule_without_its_evidence_is_skipped_and_says_what_it_needs() -> None:
    report = audit_evidence(engine("--enforce-eager"))
    skipped = {o.rule_id: o.missing for o in report.rules if o.status == "skipped"}
    assert skipped["prompt-dynamic-prefix"] == ("requests",)
    assert skipped["metrics-low-prefix-hit-rate"] == ("metrics", "requests")
    assert skipped["model-unquantized"] == ("model", "gpu")
    assert "engine-eager-mode" not in skipped
