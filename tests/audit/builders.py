"""Evidence for the audit tests, built the way users hand it over: request-log lines, /metrics text, saved bench
reports, Kubernetes manifests, rule files and dashboards written to files, read by slotune's own readers."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from slotune.audit.engine_args import engine_args_from_text
from slotune.audit.evidence import BenchEvidence, Evidence
from slotune.audit.k8s import read_manifests
from slotune.audit.metrics import metrics_from_text
from slotune.audit.monitoring_files import read_dashboard, read_rule_file
from slotune.audit.request_log import read_request_log
from slotune.catalog import get_gpu, get_model
from slotune.models import (
    SLO,
    ClientReport,
    Distribution,
    EngineCounters,
    GaugeStats,
    HistogramWindow,
    LagStats,
    LoadSpec,
    Provenance,
    RequestRecord,
    RunResult,
    RunSummary,
    ServerMetricsReport,
    ServerWindow,
    SLOTarget,
)
from slotune.models.launch import LaunchInfo
from slotune.models.reports import BenchReport, LoadReport, TokenChecks, WindowReport

STATIC = "You are a support assistant for an online shop. Answer with one JSON object. " + " ".join(
    f"Policy {i}: tickets about topic {i} go to queue {i % 5}." for i in range(30)
)
TOPICS = ("printer", "login", "refund", "delivery", "invoice", "password", "warranty")


def log_line(
    system: str | None,
    user: str,
    *,
    max_tokens: int | None = 256,
    completion: int | None = 40,
    stop: list[str] | None = None,
    temperature: float | None = 0.0,
    top_p: float | None = None,
    timestamp: float | None = None,
    prompt_tokens: int | None = None,
) -> dict[str, Any]:
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": user}
    ]
    body: dict[str, Any] = {"model": "m", "messages": messages}
    for key, value in (
        ("max_tokens", max_tokens),
        ("stop", stop),
        ("temperature", temperature),
        ("top_p", top_p),
    ):
        if value is not None:
            body[key] = value
    chars = sum(len(m["content"]) for m in messages)
    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens or max(1, chars // 4)}
    if completion is not None:
        usage["completion_tokens"] = completion
    line: dict[str, Any] = {"request": body, "usage": usage}
    if timestamp is not None:
        line["timestamp"] = timestamp
    return line


def write_log(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def chat_log(
    path: Path,
    n: int = 60,
    *,
    dynamic_prefix: bool = False,
    static_first: bool = True,
    completion: int = 40,
    max_tokens: int = 256,
    stop: list[str] | None = None,
    temperature: float | None = 0.0,
    top_p: float | None = None,
    system: str = STATIC,
    seed: int = 0,
) -> Path:
    """A chat log: a shared system prompt (optionally after per-request text) and a varying user message."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        user = f"Ticket {i}: " + " ".join(rng.choice(TOPICS) for _ in range(rng.randint(8, 30)))
        sys_text = (
            f"Request {rng.getrandbits(48):012x} received 2025-03-0{i % 9 + 1}T10:{i % 60:02d}. " + system
            if dynamic_prefix
            else system
        )
        lines.append(
            log_line(
                sys_text if static_first else None,
                user if static_first else user + " " + system,
                max_tokens=max_tokens, completion=completion, stop=stop, temperature=temperature, top_p=top_p,
                timestamp=1_700_000_000 + 0.5 * i,
            )
        )  # fmt: skip
    return write_log(path, lines)


def engine(text: str) -> Evidence:
    return Evidence(engine=engine_args_from_text(text), sources={"engine": "--engine-args"})


def with_requests(ev: Evidence, path: Path, **kwargs: Any) -> Evidence:
    block = ev.engine.config.block_size if ev.engine is not None else 16
    log = read_request_log(path, block_size=block, **kwargs)
    return replace(ev, requests=log, sources={**ev.sources, "requests": str(path)})


def with_model_gpu(
    ev: Evidence, model: str = "llama-3.1-8b", gpu: str = "h100", num_gpus: int | None = None
) -> Evidence:
    return replace(ev, model=get_model(model), gpu=get_gpu(gpu), num_gpus=num_gpus)


def metrics_text(
    *,
    prefix_caching: bool = True,
    kv_usage: float = 0.3,
    waiting: float = 0,
    running: float = 2,
    hits: float = 600,
    queries: float = 1000,
    preemptions: float = 0,
    finished: float = 100,
    ttft: tuple[float, float] = (10.0, 100),  # (sum s, count)
    queue: tuple[float, float] = (1.0, 100),
    prefill: tuple[float, float] = (4.0, 100),
    gpu_memory_utilization: float = 0.92,
    extra: str = "",
) -> str:
    info = (
        f'vllm:cache_config_info{{block_size="16",enable_prefix_caching="{prefix_caching}",'
        f'gpu_memory_utilization="{gpu_memory_utilization}",num_gpu_blocks="1000",engine="0"}} 1.0'
    )
    lines = [
        "# TYPE vllm:cache_config_info gauge",
        info,
        f'vllm:num_requests_running{{model_name="m",engine="0"}} {running}',
        f'vllm:num_requests_waiting{{model_name="m",engine="0"}} {waiting}',
        f'vllm:kv_cache_usage_perc{{model_name="m",engine="0"}} {kv_usage}',
        f'vllm:prefix_cache_hits_total{{model_name="m",engine="0"}} {hits}',
        f'vllm:prefix_cache_queries_total{{model_name="m",engine="0"}} {queries}',
        f'vllm:num_preemptions_total{{model_name="m",engine="0"}} {preemptions}',
        f'vllm:prompt_tokens_total{{model_name="m",engine="0"}} {finished * 500}',
        f'vllm:generation_tokens_total{{model_name="m",engine="0"}} {finished * 100}',
        f'vllm:request_success_total{{finished_reason="stop",model_name="m",engine="0"}} {finished}',
    ]
    for name, (total, count) in (
        ("vllm:time_to_first_token_seconds", ttft),
        ("vllm:request_queue_time_seconds", queue),
        ("vllm:request_prefill_time_seconds", prefill),
    ):
        lines += [
            f'{name}_sum{{model_name="m",engine="0"}} {total}',
            f'{name}_count{{model_name="m",engine="0"}} {count}',
        ]
    return "\n".join(lines) + "\n" + extra


def with_metrics(ev: Evidence, text: str, max_model_len: int | None = None) -> Evidence:
    scrape = metrics_from_text(text, source="metrics.txt", served_max_model_len=max_model_len)
    return replace(ev, metrics=scrape, sources={**ev.sources, "metrics": "metrics.txt"})


def _dist(mean: float) -> Distribution:
    return Distribution(count=10, mean=mean, min=mean, p50=mean, p90=mean, p95=mean, p99=mean, max=mean)


def bench_report(
    *,
    slo: SLO | None = None,
    warmup_s: float = 0.0,
    num_warmup: int = 0,
    prompt_tokens: int = 5000,
    output_tokens: int = 400,
    client_ttft_s: float = 0.1,
    server: ServerMetricsReport | None = None,
    client: ClientReport | None = None,
    engine: EngineCounters | None = None,
    preemptions: int = 0,
    launch: LaunchInfo | None = None,
    records: tuple[RequestRecord, ...] = (),
) -> BenchReport:
    summary = RunSummary(
        num_requests=10, num_ok=10, num_failed=0, duration_s=10.0, request_throughput_rps=1.0,
        output_tokens_per_s=40.0, total_tokens_per_s=540.0, prompt_tokens=prompt_tokens, cached_prompt_tokens=0,
        output_tokens=output_tokens, num_preemptions=preemptions, ttft_s=_dist(client_ttft_s), itl_s=_dist(0.02),
        tpot_s=_dist(0.02), e2e_s=_dist(1.0),
    )  # fmt: skip
    result = RunResult(
        provenance=Provenance(backend="http", slotune_version="test", engine_version="vllm 0.32.0"),
        slo=slo,
        summary=summary,
        num_requests=10,
        server=server,
        client=client,
        engine=engine,
        launch=launch,
        records=records,
        duration_s=10.0,
    )
    return BenchReport(
        result=result,
        load=LoadReport(spec=LoadSpec(kind="rate", rate_rps=1.0, warmup_s=warmup_s), description="rate 1"),
        window=WindowReport(start_s=0.0, end_s=10.0, duration_s=10.0),
        num_warmup=num_warmup,
        tokens=TokenChecks(output_source="usage"),
    )


def with_bench(ev: Evidence, *reports: BenchReport) -> Evidence:
    bench = tuple(BenchEvidence(f"bench-{i}.json", r) for i, r in enumerate(reports))
    return replace(ev, bench=bench, sources={**ev.sources, "bench": ", ".join(b.source for b in bench)})


def server_window(ttft: float, queue: float, prefill: float) -> ServerMetricsReport:
    histograms = {
        k: HistogramWindow(count=10, mean=v)
        for k, v in (("ttft_s", ttft), ("queue_time_s", queue), ("prefill_time_s", prefill))
    }
    return ServerMetricsReport(
        scrapes=3, interval_s=1.0, window=ServerWindow(window_s=10.0, histograms=histograms)
    )


def server_gauges(kv_max: float, waiting_max: float) -> ServerMetricsReport:
    return ServerMetricsReport(
        scrapes=3, interval_s=1.0,
        gauges={"kv_cache_usage": GaugeStats(mean=kv_max / 2, max=kv_max), "num_requests_waiting": GaugeStats(mean=waiting_max / 2, max=waiting_max)},
    )  # fmt: skip


def lagging_client(p99_s: float) -> ClientReport:
    lag = LagStats(count=100, mean_s=p99_s / 2, p50_s=p99_s / 2, p99_s=p99_s, max_s=p99_s)
    return ClientReport(schedule_lag_s=lag, loop_lag_s=lag)


def launch_info(time_to_healthy_s: float) -> LaunchInfo:
    return LaunchInfo(argv=("python", "-m", "vllm.entrypoints.openai.api_server", "--model", "m"), vllm_version="0.32.0",
                      base_url="http://127.0.0.1:1", port=1, pid=1, log_path="x.log", time_to_healthy_s=time_to_healthy_s)  # fmt: skip


def chat_slo() -> SLO:
    return SLO(name="chat", targets=(SLOTarget(metric="ttft", stat="p99", threshold=0.2),))


def manifest(
    path: Path,
    *,
    args: list[str] | None = None,
    cpu: str | None = "8",
    gpus: int = 1,
    shm: bool = True,
    liveness: dict[str, Any] | None = None,
    startup: dict[str, Any] | None = None,
    hpa_metric: dict[str, Any] | None = None,
) -> Path:
    container: dict[str, Any] = {
        "name": "vllm",
        "image": "vllm/vllm-openai:v0.32.0",
        "args": args or ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192"],
        "resources": {"limits": {"nvidia.com/gpu": gpus}, **({"requests": {"cpu": cpu}} if cpu else {})},
    }
    if shm:
        container["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if liveness is not None:
        container["livenessProbe"] = {"httpGet": {"path": "/health", "port": 8000}, **liveness}
    if startup is not None:
        container["startupProbe"] = {"httpGet": {"path": "/health", "port": 8000}, **startup}
    pod: dict[str, Any] = {"containers": [container]}
    if shm:
        pod["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}]
    docs: list[dict[str, Any]] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vllm"},
         "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "vllm"}}, "spec": pod}}},
    ]  # fmt: skip
    if hpa_metric is not None:
        docs.append(
            {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "vllm"},
             "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "vllm"}, "metrics": [hpa_metric]}}
        )  # fmt: skip
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path


def with_k8s(ev: Evidence, path: Path) -> Evidence:
    return replace(ev, k8s=read_manifests([path]), sources={**ev.sources, "k8s": str(path)})


def rule_file(path: Path, *exprs: str) -> Path:
    rules = [{"alert": f"A{i}", "expr": e} for i, e in enumerate(exprs)]
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "vllm", "rules": rules}]}, sort_keys=False), encoding="utf-8"
    )
    return path


def with_rules(ev: Evidence, path: Path) -> Evidence:
    return replace(
        ev, prometheus_rules=(read_rule_file(path),), sources={**ev.sources, "prometheus_rules": str(path)}
    )


def dashboard(path: Path, *exprs: str) -> Path:
    panels = [
        {
            "type": "row",
            "title": "Latency",
            "panels": [{"title": f"p{i}", "targets": [{"expr": e}]} for i, e in enumerate(exprs)],
        }
    ]
    path.write_text(
        json.dumps({"dashboard": {"title": "vLLM", "panels": panels}}, indent=2), encoding="utf-8"
    )
    return path


def with_dashboard(ev: Evidence, path: Path) -> Evidence:
    return replace(
        ev, grafana=((str(path), read_dashboard(path)),), sources={**ev.sources, "grafana": str(path)}
    )
