"""The second way some rules fire (a benchmark's client or gauges instead of a scrape, a measured start-up),
and the fixes they compute from the evidence."""

from __future__ import annotations

from pathlib import Path

from builders import (
    bench_report,
    lagging_client,
    launch_info,
    manifest,
    metrics_text,
    server_gauges,
    with_bench,
    with_k8s,
    with_metrics,
)

from slotune.audit import RULES_BY_ID, Evidence, audit_evidence
from slotune.models import Finding


def _findings(rule_id: str, ev: Evidence) -> tuple[Finding, ...]:
    return audit_evidence(ev, rules=[RULES_BY_ID[rule_id]]).findings


def test_a_lagging_benchmark_client_is_a_cpu_bottleneck_with_more_workers_as_fix() -> None:
    (f,) = _findings(
        "infra-cpu-bottleneck", with_bench(Evidence(), bench_report(client=lagging_client(0.05)))
    )
    assert "client was CPU-bound" in f.message and f.fixes[0].target == "--workers"
    assert (
        _findings("infra-cpu-bottleneck", with_bench(Evidence(), bench_report(client=lagging_client(0.002))))
        == ()
    )


def test_kv_saturation_and_preemptions_in_a_benchmark_window() -> None:
    ev = with_bench(Evidence(), bench_report(server=server_gauges(kv_max=0.97, waiting_max=4), preemptions=3))
    (kv,) = _findings("metrics-kv-saturated-queue", ev)
    assert (
        "97%" in kv.message
        and kv.fixes[0].target == "--gpu-memory-utilization"
        and kv.fixes[0].value == "0.95"
    )
    (pre,) = _findings("metrics-preemptions", ev)
    assert "3 preemptions for 10 requests" in pre.message


def test_preemptions_fix_sizes_max_num_seqs_from_the_scrapes_cache_and_lengths() -> None:
    (f,) = _findings("metrics-preemptions", with_metrics(Evidence(), metrics_text(preemptions=10)))
    seqs = next(x for x in f.fixes if x.target == "--max-num-seqs")
    assert seqs.value == str(1000 * 16 // 600)  # 1,000 blocks of 16 tokens / (500 prompt + 100 output)


def test_a_probe_shorter_than_the_measured_start_up(tmp_path: Path) -> None:
    ev = with_k8s(
        Evidence(), manifest(tmp_path / "k.yaml", startup={"periodSeconds": 10, "failureThreshold": 20})
    )
    assert _findings("k8s-probe-budget", ev) == ()  # 200 s is above the 120 s assumed without a measurement
    (f,) = _findings("k8s-probe-budget", with_bench(ev, bench_report(launch=launch_info(300.0))))
    assert f.confidence == "high" and "300 s" in f.message and f.fixes[0].value == "60"
    assert {e.kind for e in f.evidence} == {"k8s", "bench"}
