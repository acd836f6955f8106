"""After the run: records, telemetry and scrapes become `summary.json` and a `RunResult`."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from slotune import __version__
from slotune.bench.calibrate import Calibration
from slotune.bench.client import StreamResult
from slotune.bench.loops import loop_factory
from slotune.bench.prompts import count_tokens
from slotune.bench.results import Collector, write_summary
from slotune.bench.scrape import Scraper
from slotune.bench.server_info import ServerInfo
from slotune.bench.server_metrics import Snapshot, engine_info, gauge_summary, timeline_samples, window_deltas
from slotune.bench.settings import BenchSettings
from slotune.bench.stats import intervals
from slotune.bench.telemetry import GpuTelemetry, lag_stats
from slotune.bench.transport import Endpoint
from slotune.bench.validity import check_run
from slotune.bench.worker import WireJob
from slotune.metrics import summarize
from slotune.models import Provenance, RequestRecord, RunResult, StepSample, Workload


@dataclass
class BenchOutcome:
    summary: dict[str, Any]
    records: list[RequestRecord]
    warmup_records: list[RequestRecord]
    timeline: list[StepSample]
    run_result: RunResult
    out_dir: Path | None

    @property
    def valid(self) -> bool:
        return bool(self.summary["valid"])

    @property
    def reasons(self) -> list[str]:
        return list(self.summary["invalid_reasons"])


def workload_digest(workload: Workload) -> str:
    if workload.digest:
        return workload.digest
    h = hashlib.sha256()
    for r in workload.requests:
        h.update(r.model_dump_json().encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def sanitized_command(argv: tuple[str, ...]) -> list[str]:
    """The command line with any --api-key value replaced."""
    out: list[str] = []
    hide = False
    for arg in argv:
        if hide:
            out.append("<hidden>")
            hide = False
        elif arg == "--api-key":
            out.append(arg)
            hide = True
        elif arg.startswith("--api-key="):
            out.append("--api-key=<hidden>")
        else:
            out.append(arg)
    return out


def _rate(times: np.ndarray) -> float | None:
    if times.size < 2:
        return None
    span = float(times.max() - times.min())
    return (times.size - 1) / span if span > 0 else None


def send_times(
    measured: list[tuple[WireJob, StreamResult, RequestRecord]], t0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Scheduled and actual send times (run clock) of an open loop's requests; lag = actual - scheduled.

    A request is sent when its bytes reach the socket, so one that waited for a new connection is as late
    as that wait; one that never got a connection counts from when it was started (and is an error).
    """
    timed = [
        (job.send_s, (res.written_t if res.written_t is not None else res.sent_t) - t0)
        for job, res, _ in measured
        if job.send_s is not None
    ]
    return np.asarray([s for s, _ in timed], dtype=float), np.asarray([w for _, w in timed], dtype=float)


def build_outcome(
    *,
    settings: BenchSettings,
    workload: Workload,
    info: ServerInfo,
    calibration: Calibration,
    collector: Collector,
    worker_telemetry: list[dict[str, Any]],
    host_cpu: float | None,
    scraper: Scraper,
    before: Snapshot | None,
    after: Snapshot | None,
    gpu: GpuTelemetry,
    t0: float,
    interrupted: bool,
    tokenizer: Any,
    open_loop: bool,
) -> BenchOutcome:
    measured = collector.measured
    records = [m[2] for m in measured]
    ok_records = [r for r in records if r.ok]
    warnings: list[str] = list(calibration.notes)

    # Window: first measured send to last measured finish.
    starts = [r.arrival_s for r in records]
    ends = [r.finish_s if r.finish_s is not None else r.arrival_s for r in records]
    window_start = min(starts) if starts else 0.0
    window_end = max(ends) if ends else 0.0
    duration_s = window_end - window_start

    metrics: dict[str, Any] | None = None
    cis: dict[str, Any] = {}
    if records and duration_s > 0:
        metrics = summarize(records, duration_s=duration_s, slo=settings.slo).model_dump(mode="json")
        ttft = [v for r in ok_records if (v := r.ttft_s) is not None]
        tpot = [v for r in ok_records if (v := r.tpot_s) is not None]
        e2e = [v for r in ok_records if (v := r.e2e_s) is not None]
        itl = np.concatenate(
            [np.diff(r.chunk_times_s) for r in ok_records if len(r.chunk_times_s) > 1] or [np.empty(0)]
        )
        cis = {
            name: intervals(vals, seed=settings.seed)
            for name, vals in (("ttft_s", ttft), ("tpot_s", tpot), ("e2e_s", e2e), ("itl_s", itl))
        }

    # Client side: schedule lag, rates, CPU, loop lag.
    sched, sent = send_times(measured, t0)
    lags = sent - sched
    offered = settings.load.rate_rps if settings.load.kind == "rate" else _rate(sched)
    schedule_rate = _rate(sched)
    achieved = _rate(sent)
    # Compare with the schedule's own rate: a short Poisson schedule's empirical rate differs from the nominal.
    lag_p99 = float(np.percentile(lags, 99)) if lags.size else None
    cpu_values = [w["cpu_utilization"] for w in worker_telemetry]
    loop_lags = [x for w in worker_telemetry for x in w["loop_lag_s"]]

    # Tokens: output length against the request, prompt length against the plan, local tokenizer recount.
    output_checked = [(job, rec) for job, _, rec in measured if rec.ok]
    mismatched = [
        (job, rec) for job, rec in output_checked if rec.output_tokens != job.expected_output_tokens
    ]
    usage_missing = sum(1 for _, res, _ in measured if res.ok and res.completion_tokens is None)
    prompt_mismatch = [
        (job, rec)
        for job, res, rec in measured
        if res.prompt_tokens is not None and res.prompt_tokens != job.expected_prompt_tokens
    ]
    tokenizer_check: dict[str, Any] | None = None
    if tokenizer is not None and collector.keep_text:
        pairs = [
            (res.text, res.completion_tokens)
            for _, res, rec in measured
            if rec.ok and res.completion_tokens is not None
        ]
        if pairs:
            local = count_tokens(tokenizer, [p[0] for p in pairs])
            diffs = [loc - usage for loc, (_, usage) in zip(local, pairs, strict=True)]
            n_diff = sum(1 for d in diffs if d != 0)
            tokenizer_check = {
                "checked": len(pairs),
                "mismatched": n_diff,
                "mean_abs_difference": float(np.mean(np.abs(diffs))),
                "note": "generated text re-tokenized locally vs the server's usage.completion_tokens; "
                "re-encoding decoded text can merge tokens, so small differences are expected",
            }
            if n_diff:
                warnings.append(
                    f"local tokenizer count differs from the server's usage for {n_diff} of {len(pairs)} requests "
                    f"(mean |diff| {tokenizer_check['mean_abs_difference']:.2f} tokens)"
                )
    if usage_missing:
        warnings.append(
            f"{usage_missing} successful requests had no usage: their output tokens were counted as chunks"
        )
    if prompt_mismatch:
        warnings.append(
            f"{len(prompt_mismatch)} requests had a server prompt-token count different from the planned length"
        )
    if interrupted:
        warnings.append("the run was interrupted (Ctrl-C): the summary covers the requests that finished")
    if collector.writer.error is not None:
        warnings.append(f"could not write every record to disk: {collector.writer.error}")
    if scraper.failures:
        warnings.append(f"{len(scraper.failures)} /metrics scrapes failed (first: {scraper.failures[0]})")

    report = check_run(
        open_loop=open_loop,
        offered_rate_rps=schedule_rate,
        achieved_rate_rps=achieved,
        schedule_lag_p99_s=lag_p99,
        client_cpu_max=max(cpu_values) if cpu_values else None,
        loop_lag_p99_s=float(np.percentile(loop_lags, 99)) if loop_lags else None,
        host_cpu=host_cpu,
        num_requests=len(records),
        num_errors=len(records) - len(ok_records),
        num_output_checked=len(output_checked),
        num_output_mismatched=len(mismatched),
        exact_output=calibration.exact_output,
        thresholds=settings.thresholds,
        extra_warnings=tuple(warnings),
    )
    reasons = list(report.reasons)
    if interrupted:
        reasons.append("interrupted before the planned load finished")

    # Server side.
    server_metrics: dict[str, Any] | None = None
    timeline: list[StepSample] = []
    if scraper.snapshots:
        window_snaps = [s for s in scraper.snapshots if window_start - 1e-9 <= s.time_s] or scraper.snapshots
        server_metrics = {
            "scrapes": len(scraper.snapshots),
            "interval_s": settings.scrape_interval_s,
            "scrape_latency_s": lag_stats(scraper.latencies_s),
            "engine": engine_info(scraper.snapshots[-1]),
            "gauges": gauge_summary(window_snaps),
            "kv_usage_timeline": [
                [s.time_s, s.total("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")]
                for s in scraper.snapshots
            ],
            "running_waiting_timeline": [
                [s.time_s, s.total("vllm:num_requests_running"), s.total("vllm:num_requests_waiting")]
                for s in scraper.snapshots
            ],
        }
        if before is not None and after is not None:
            server_metrics["window"] = window_deltas(before, after)
        timeline = timeline_samples(scraper.snapshots)

    engine_flags = server_metrics["engine"] if server_metrics else {}
    provenance = Provenance(
        backend="http",
        slotune_version=__version__,
        workload_digest=workload_digest(workload),
        workload_name=workload.name,
        model=settings.model,
        seed=settings.seed,
        engine_version=("vllm " + info.version) if info.is_vllm and info.version else (info.version or ""),
        server_url=Endpoint(settings.url).url(""),
        created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={
            "api": settings.api,
            "load": settings.load.describe(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "host": platform.node(),
            "command": json.dumps(sanitized_command(settings.command_line)),
            **{f"engine.{k}": v for k, v in engine_flags.items()},
        },
    )
    summary: dict[str, Any] = {
        "schema": "slotune.bench.summary/1",
        "valid": not reasons,
        "invalid_reasons": reasons,
        "warnings": list(report.warnings),
        "interrupted": interrupted,
        "provenance": provenance.model_dump(mode="json"),
        "engine_config": settings.engine_config.model_dump(mode="json") if settings.engine_config else None,
        "load": {
            "kind": settings.load.kind,
            "description": settings.load.describe(),
            "rate_rps": settings.load.rate_rps,
            "arrival": settings.load.arrival if settings.load.kind == "rate" else None,
            "cv": settings.load.cv,
            "concurrency": settings.load.concurrency,
            "think_time_s": settings.load.think_time_s if settings.load.kind == "concurrency" else None,
            "time_scale": settings.load.time_scale if settings.load.kind == "replay" else None,
            "num_requests": settings.load.num_requests,
            "duration_s": settings.load.duration_s,
            "warmup_s": settings.load.warmup_s,
            "seed": settings.seed,
            "api": settings.api,
            "exact_output": calibration.exact_output,
            "prompt_overhead_tokens": calibration.overhead_tokens,
        },
        "window": {"start_s": window_start, "end_s": window_end, "duration_s": duration_s},
        "num_measured": len(records),
        "num_warmup": len(collector.warmup),
        "metrics": metrics,
        "confidence_intervals": {"method": "percentile bootstrap, 95%, seeded", **cis} if cis else None,
        "client": {
            "offered_rate_rps": offered,
            "schedule_rate_rps": schedule_rate,
            "achieved_send_rate_rps": achieved,
            "schedule_lag_s": lag_stats(lags),
            "loop_lag_s": lag_stats(loop_lags),
            "cpu_utilization": cpu_values,
            "host_cpu_utilization": host_cpu,
            "workers": len(worker_telemetry),
            "event_loop": loop_factory(settings.event_loop)[0],
            "connections_opened": sum(w["connections_opened"] for w in worker_telemetry),
            "requests_resent_on_stale_connection": sum(w["requests_resent"] for w in worker_telemetry),
        },
        "tokens": {
            "output_source": "usage" if not usage_missing else "usage where given, else chunks",
            "output_length_checked": len(output_checked),
            "output_length_mismatched": len(mismatched),
            "output_length_examples": [
                {"request_id": j.request_id, "expected": j.expected_output_tokens, "got": r.output_tokens}
                for j, r in mismatched[:10]
            ],
            "prompt_length_mismatched": len(prompt_mismatch),
            "prompt_length_examples": [
                {"request_id": j.request_id, "expected": j.expected_prompt_tokens, "got": r.prompt_tokens}
                for j, r in prompt_mismatch[:10]
            ],
            "tokenizer_check": tokenizer_check,
        },
        "errors": _error_summary(records),
        "server_metrics": server_metrics,
        "gpu": gpu.summary(),
        "checks": report.checks,
    }
    flat: dict[str, float | int | str | None] = {"valid": int(not reasons)}
    if metrics:
        for key in ("request_throughput_rps", "output_tokens_per_s", "num_requests", "num_failed"):
            flat[key] = metrics[key]
        for dist in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
            for stat in ("mean", "p50", "p99"):
                flat[f"{dist}.{stat}"] = metrics[dist][stat]
    if server_metrics and "window" in server_metrics:
        flat["prefix_cache_hit_rate"] = server_metrics["window"].get("prefix_cache_hit_rate")
    run_result = RunResult(
        provenance=provenance,
        engine_config=settings.engine_config,
        records=tuple(records),
        timeline=tuple(timeline),
        duration_s=duration_s,
        num_requests=len(records),
        summary=flat,
    )
    if settings.out_dir is not None:
        write_summary(settings.out_dir, summary)
    return BenchOutcome(summary, records, collector.warmup, timeline, run_result, settings.out_dir)


def _error_summary(records: list[RequestRecord]) -> dict[str, Any]:
    by_reason: dict[str, int] = {}
    examples: dict[str, str] = {}
    for r in records:
        if r.ok:
            continue
        by_reason[r.finish_reason] = by_reason.get(r.finish_reason, 0) + 1
        if r.error and len(examples) < 10:
            key = r.error.split(":")[0][:60]
            examples.setdefault(key, r.error[:300])
    return {"count": sum(by_reason.values()), "by_reason": by_reason, "examples": list(examples.values())}
