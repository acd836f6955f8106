"""After the run: records, telemetry and scrapes become a typed `BenchReport` (saved as result.json)."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from slotune import __version__
from slotune.bench.client import StreamResult
from slotune.bench.loops import loop_factory
from slotune.bench.probe import PromptProbe
from slotune.bench.prompts import count_tokens
from slotune.bench.results import RECORDS_FILE, Collector
from slotune.bench.scrape import Scraper
from slotune.bench.server_info import ServerInfo
from slotune.bench.server_metrics import (
    KV_USAGE,
    Snapshot,
    engine_info,
    gauge_summary,
    prefix_hit_rate,
    timeline_samples,
    window_deltas,
)
from slotune.bench.settings import BenchSettings
from slotune.bench.stats import intervals
from slotune.bench.telemetry import GpuTelemetry, lag_stats
from slotune.bench.transport import Endpoint
from slotune.bench.validity import check_run
from slotune.bench.worker import WireJob
from slotune.metrics import summarize
from slotune.metrics.summary import with_cost
from slotune.models import (
    ClientReport,
    EngineCounters,
    Provenance,
    RequestRecord,
    RunResult,
    RunSummary,
    ServerMetricsReport,
    Validity,
    Workload,
)
from slotune.models.reports import (
    BenchReport,
    ErrorSummary,
    LengthMismatch,
    LoadReport,
    TokenChecks,
    TokenizerCheck,
    WindowReport,
)
from slotune.results import RESULT_FILE, save_result, stamped
from slotune.workload.digest import workload_digest


@dataclass
class BenchOutcome:
    """A finished benchmark: its saved report, plus the warm-up records (kept out of every statistic)."""

    report: BenchReport
    warmup_records: list[RequestRecord]
    out_dir: Path | None

    @property
    def run_result(self) -> RunResult:
        return self.report.result

    @property
    def records(self) -> tuple[RequestRecord, ...]:
        return self.report.result.records

    @property
    def valid(self) -> bool:
        return self.report.valid

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.report.reasons


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


@dataclass(frozen=True, slots=True)
class RunInputs:
    """Everything a finished run hands over to be summarized."""

    settings: BenchSettings
    workload: Workload
    info: ServerInfo
    probe: PromptProbe
    collector: Collector
    worker_telemetry: list[dict[str, Any]]
    host_cpu: float | None
    scraper: Scraper
    before: Snapshot | None
    after: Snapshot | None
    gpu: GpuTelemetry
    t0: float
    interrupted: bool
    tokenizer: Any
    open_loop: bool


def _window(records: list[RequestRecord]) -> WindowReport:
    """The measured window: first measured send to last measured finish."""
    starts = [r.arrival_s for r in records]
    ends = [r.finish_s if r.finish_s is not None else r.arrival_s for r in records]
    start, end = (min(starts), max(ends)) if records else (0.0, 0.0)
    return WindowReport(start_s=start, end_s=end, duration_s=end - start)


def _confidence_intervals(
    ok_records: list[RequestRecord], seed: int
) -> dict[str, dict[str, tuple[float, float] | None]]:
    itl = np.concatenate(
        [np.diff(r.chunk_times_s) for r in ok_records if len(r.chunk_times_s) > 1] or [np.empty(0)]
    )
    values: dict[str, list[float] | np.ndarray] = {
        "ttft_s": [v for r in ok_records if (v := r.ttft_s) is not None],
        "tpot_s": [v for r in ok_records if (v := r.tpot_s) is not None],
        "e2e_s": [v for r in ok_records if (v := r.e2e_s) is not None],
        "itl_s": itl,
    }
    return {
        name: {
            stat: None if ci is None else (ci[0], ci[1]) for stat, ci in intervals(vals, seed=seed).items()
        }
        for name, vals in values.items()
    }


def _client_report(run: RunInputs) -> ClientReport:
    """Schedule lag, send rates, CPU and event-loop lag of the load generator."""
    sched, sent = send_times(run.collector.measured, run.t0)
    load = run.settings.load
    telemetry = run.worker_telemetry
    return ClientReport(
        # Compare with the schedule's own rate: a short Poisson schedule's empirical rate differs from the nominal.
        offered_rate_rps=load.rate_rps if load.kind == "rate" else _rate(sched),
        schedule_rate_rps=_rate(sched),
        achieved_send_rate_rps=_rate(sent),
        schedule_lag_s=lag_stats(sent - sched),
        loop_lag_s=lag_stats([x for w in telemetry for x in w["loop_lag_s"]]),
        cpu_utilization=tuple(w["cpu_utilization"] for w in telemetry),
        host_cpu_utilization=run.host_cpu,
        workers=len(telemetry),
        event_loop=loop_factory(run.settings.event_loop)[0],
        connections_opened=sum(w["connections_opened"] for w in telemetry),
        requests_resent_on_stale_connection=sum(w["requests_resent"] for w in telemetry),
    )


def _tokenizer_check(run: RunInputs) -> TokenizerCheck | None:
    """Generated text re-tokenized locally against the server's usage counts."""
    if run.tokenizer is None or not run.collector.keep_text:
        return None
    pairs = [
        (res.text, res.completion_tokens)
        for _, res, rec in run.collector.measured
        if rec.ok and res.completion_tokens is not None
    ]
    if not pairs:
        return None
    local = count_tokens(run.tokenizer, [p[0] for p in pairs])
    diffs = [loc - usage for loc, (_, usage) in zip(local, pairs, strict=True)]
    return TokenizerCheck(
        checked=len(pairs),
        mismatched=sum(1 for d in diffs if d != 0),
        mean_abs_difference=float(np.mean(np.abs(diffs))),
        note="generated text re-tokenized locally vs the server's usage.completion_tokens; "
        "re-encoding decoded text can merge tokens, so small differences are expected",
    )


def _token_checks(run: RunInputs) -> tuple[TokenChecks, int]:
    """Output length against the request, prompt length against the plan; also how many lacked usage."""
    measured = run.collector.measured
    mismatched = [
        LengthMismatch(request_id=job.request_id, expected=job.expected_output_tokens, got=rec.output_tokens)
        for job, _, rec in measured
        if rec.ok and rec.output_tokens != job.expected_output_tokens
    ]
    prompt_mismatch = [
        LengthMismatch(request_id=job.request_id, expected=job.expected_prompt_tokens, got=rec.prompt_tokens)
        for job, res, rec in measured
        if res.prompt_tokens is not None and res.prompt_tokens != job.expected_prompt_tokens
    ]
    usage_missing = sum(1 for _, res, _ in measured if res.ok and res.completion_tokens is None)
    checks = TokenChecks(
        output_source="usage" if not usage_missing else "usage where given, else chunks",
        output_length_checked=sum(1 for _, _, rec in measured if rec.ok),
        output_length_mismatched=len(mismatched),
        output_length_examples=tuple(mismatched[:10]),
        prompt_length_mismatched=len(prompt_mismatch),
        prompt_length_examples=tuple(prompt_mismatch[:10]),
        tokenizer_check=_tokenizer_check(run),
    )
    return checks, usage_missing


def _warnings(run: RunInputs, tokens: TokenChecks, usage_missing: int) -> list[str]:
    warnings: list[str] = list(run.probe.notes)
    check = tokens.tokenizer_check
    if check is not None and check.mismatched:
        warnings.append(
            f"local tokenizer count differs from the server's usage for {check.mismatched} of {check.checked} "
            f"requests (mean |diff| {check.mean_abs_difference:.2f} tokens)"
        )
    if usage_missing:
        warnings.append(
            f"{usage_missing} successful requests had no usage: their output tokens were counted as chunks"
        )
    if tokens.prompt_length_mismatched:
        warnings.append(
            f"{tokens.prompt_length_mismatched} requests had a server prompt-token count different from the "
            "planned length"
        )
    if run.interrupted:
        warnings.append("the run was interrupted (Ctrl-C): the summary covers the requests that finished")
    if run.collector.writer.error is not None:
        warnings.append(f"could not write every record to disk: {run.collector.writer.error}")
    if run.scraper.failures:
        warnings.append(
            f"{len(run.scraper.failures)} /metrics scrapes failed (first: {run.scraper.failures[0]})"
        )
    return warnings


def _validity(run: RunInputs, client: ClientReport, tokens: TokenChecks, warnings: list[str]) -> Validity:
    records = [m[2] for m in run.collector.measured]
    cpu = client.cpu_utilization
    verdict = check_run(
        open_loop=run.open_loop,
        offered_rate_rps=client.schedule_rate_rps,
        achieved_rate_rps=client.achieved_send_rate_rps,
        schedule_lag_p99_s=client.schedule_lag_s.p99_s if client.schedule_lag_s else None,
        client_cpu_max=max(cpu) if cpu else None,
        loop_lag_p99_s=client.loop_lag_s.p99_s if client.loop_lag_s else None,
        host_cpu=run.host_cpu,
        num_requests=len(records),
        num_errors=sum(1 for r in records if not r.ok),
        num_output_checked=tokens.output_length_checked,
        num_output_mismatched=tokens.output_length_mismatched,
        exact_output=run.probe.exact_output,
        thresholds=run.settings.thresholds,
        extra_warnings=tuple(warnings),
    )
    if run.interrupted:
        reasons = (*verdict.reasons, "interrupted before the planned load finished")
        verdict = verdict.model_copy(update={"valid": False, "reasons": reasons})
    return verdict


def _server_report(run: RunInputs, window_start_s: float) -> ServerMetricsReport | None:
    snapshots = run.scraper.snapshots
    if not snapshots:
        return None
    window_snaps = [s for s in snapshots if window_start_s - 1e-9 <= s.time_s] or snapshots
    return ServerMetricsReport(
        scrapes=len(snapshots),
        interval_s=run.settings.scrape_interval_s,
        scrape_latency_s=lag_stats(run.scraper.latencies_s),
        engine_info=engine_info(snapshots[-1]),
        gauges=gauge_summary(window_snaps),
        window=window_deltas(run.before, run.after)
        if run.before is not None and run.after is not None
        else None,
        kv_usage_timeline=tuple((s.time_s, s.total(*KV_USAGE)) for s in snapshots),
        running_waiting_timeline=tuple(
            (s.time_s, s.total("vllm:num_requests_running"), s.total("vllm:num_requests_waiting"))
            for s in snapshots
        ),
    )


def _int_or_none(value: float | str | None) -> int | None:
    try:
        return None if value is None else int(float(value))
    except ValueError:
        return None


def engine_counters(server: ServerMetricsReport | None) -> EngineCounters | None:
    """The engine's view of the run, from the server's /metrics (the same fields the simulator fills)."""
    if server is None:
        return None
    blocks = _int_or_none(server.engine_info.get("cache_config.num_gpu_blocks"))
    block_size = _int_or_none(server.engine_info.get("cache_config.block_size"))
    window = server.window
    kv, running, waiting = (
        server.gauges.get(k) for k in ("kv_cache_usage", "num_requests_running", "num_requests_waiting")
    )
    return EngineCounters(
        source="server-metrics",
        num_gpu_blocks=blocks,
        block_size=block_size,
        kv_capacity_tokens=blocks * block_size if blocks is not None and block_size is not None else None,
        kv_usage_mean=kv.mean if kv else None,
        kv_usage_max=kv.max if kv else None,
        prefix_query_tokens=_int_or_none(window.prefix_cache_queries) if window else None,
        prefix_hit_tokens=_int_or_none(window.prefix_cache_hits) if window else None,
        prefix_hit_rate=prefix_hit_rate(window) if window else None,
        num_preemptions=_int_or_none(window.num_preemptions) if window else None,
        prompt_tokens=_int_or_none(window.prompt_tokens) if window else None,
        generation_tokens=_int_or_none(window.generation_tokens) if window else None,
        num_running_mean=running.mean if running else None,
        num_running_max=running.max if running else None,
        num_waiting_mean=waiting.mean if waiting else None,
        num_waiting_max=waiting.max if waiting else None,
    )


def _provenance(run: RunInputs, server: ServerMetricsReport | None) -> Provenance:
    settings, info = run.settings, run.info
    engine_flags = server.engine_info if server is not None else {}
    return Provenance(
        backend="http",
        slotune_version=__version__,
        workload_digest=workload_digest(run.workload),
        workload_name=run.workload.name,
        model=settings.model,
        gpu=settings.gpu or "",
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


def _load_report(run: RunInputs) -> LoadReport:
    settings = run.settings
    return LoadReport(
        spec=settings.load,
        description=settings.load.describe(),
        seed=settings.seed,
        api=settings.api,
        exact_output=run.probe.exact_output,
        prompt_overhead_tokens=run.probe.overhead_tokens,
    )


def _error_summary(records: list[RequestRecord]) -> ErrorSummary:
    by_reason: dict[str, int] = {}
    examples: dict[str, str] = {}
    for r in records:
        if r.ok:
            continue
        by_reason[r.finish_reason] = by_reason.get(r.finish_reason, 0) + 1
        if r.error and len(examples) < 10:
            key = r.error.split(":")[0][:60]
            examples.setdefault(key, r.error[:300])
    return ErrorSummary(count=sum(by_reason.values()), by_reason=by_reason, examples=tuple(examples.values()))


def _priced(summary: RunSummary, settings: BenchSettings) -> RunSummary:
    """The summary with the run's cost (every GPU the server holds, at the price given for its GPU), where the
    caller asked for one: a price, or the reason there is none. Otherwise unpriced, as any Backend's run."""
    if settings.price is None and settings.price_missing is None:
        return summary
    return with_cost(summary, settings.price, settings.num_gpus, missing=settings.price_missing)


def build_outcome(run: RunInputs) -> BenchOutcome:
    """The run's report, written to `out_dir/result.json` (records already streamed to records.jsonl)."""
    settings = run.settings
    records = [m[2] for m in run.collector.measured]
    ok_records = [r for r in records if r.ok]
    window = _window(records)
    client = _client_report(run)
    tokens, usage_missing = _token_checks(run)
    validity = _validity(run, client, tokens, _warnings(run, tokens, usage_missing))
    server = _server_report(run, window.start_s)
    result = RunResult(
        provenance=_provenance(run, server),
        engine_config=settings.engine_config,
        load=settings.load,
        slo=settings.slo,
        records=tuple(records),
        timeline=tuple(timeline_samples(run.scraper.snapshots)),
        duration_s=window.duration_s,
        num_requests=len(records),
        summary=_priced(summarize(records, duration_s=window.duration_s, slo=settings.slo), settings),
        engine=engine_counters(server),
        server=server,
        client=client,
        validity=validity,
    )
    report = stamped(
        BenchReport(
            result=result,
            load=_load_report(run),
            window=window,
            num_warmup=len(run.collector.warmup),
            interrupted=run.interrupted,
            confidence_intervals=_confidence_intervals(ok_records, settings.seed) if ok_records else {},
            tokens=tokens,
            errors=_error_summary(records),
            gpu=run.gpu.summary(),
            records_file=RECORDS_FILE if settings.out_dir is not None else None,
        )
    )
    if settings.out_dir is not None:
        save_result(report, settings.out_dir / RESULT_FILE, records_written=True)
    return BenchOutcome(report, run.collector.warmup, settings.out_dir)
