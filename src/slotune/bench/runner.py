"""One benchmark run against a live server: probe, calibrate, send the load, collect, check, write."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import os
import platform
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

import numpy as np

from slotune import __version__
from slotune.bench.client import OutputControl, StreamHandler, StreamResult
from slotune.bench.executors import ClosedLoopPlan, make_load
from slotune.bench.fetch import fetch
from slotune.bench.load import LoadSpec, closed_loop_job, plan_jobs
from slotune.bench.loops import loop_factory, run_with_loop
from slotune.bench.prompts import PromptBuilder, count_tokens, load_tokenizer, stable_word_pool
from slotune.bench.results import RecordWriter, to_record, write_summary
from slotune.bench.server_info import ServerInfo, check_model, probe_server
from slotune.bench.server_metrics import (
    COUNTERS,
    RUNNING,
    WAITING,
    Snapshot,
    engine_info,
    gauge_summary,
    parse_prometheus,
    timeline_samples,
    window_deltas,
)
from slotune.bench.stats import intervals
from slotune.bench.telemetry import GpuTelemetry, HostCpuMeter, lag_stats
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.bench.validity import ValidityThresholds, check_run
from slotune.bench.worker import Outcome, RequestFactory, WireJob
from slotune.errors import BackendError, InputError
from slotune.metrics import summarize
from slotune.models import (
    SLO,
    EngineConfig,
    Provenance,
    RequestRecord,
    RequestSpec,
    RunResult,
    StepSample,
    Workload,
)

log = logging.getLogger(__name__)

_PROBE_CONTENT_TOKENS = 32
_PROBE_OUTPUT_TOKENS = 4
_PROBE_JOB_INDEX = 2**40  # its own random stream, apart from every job of the run


class ProgressReporter(Protocol):
    def start(self, total: int | None, description: str) -> None: ...

    def update(self, completed: int, failed: int) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class BenchSettings:
    url: str
    model: str
    load: LoadSpec
    api: str = "completions"
    num_requests: int | None = None
    duration_s: float | None = None
    warmup_s: float = 0.0
    seed: int = 0
    slo: SLO | None = None
    out_dir: Path | None = None
    api_key: str | None = None
    tokenizer: str | None = None
    timeout_s: float | None = 600.0
    scrape_interval_s: float = 1.0
    exact_output: bool | None = None  # None: on for vLLM servers (ignore_eos, min_tokens), off elsewhere
    prompt_as_token_ids: bool = False
    check_tokens: bool = True
    thresholds: ValidityThresholds = field(default_factory=ValidityThresholds)
    extra_body: tuple[tuple[str, Any], ...] = ()
    engine_config: EngineConfig | None = None
    command_line: tuple[str, ...] = ()
    workers: int = 1  # load-generator processes (each its own event loop)
    event_loop: str = "auto"  # "auto" (uvloop where installed), "asyncio" or "uvloop"

    def check(self) -> None:
        self.load.check()
        if self.seed < 0:
            raise InputError("seed", self.seed, "give a seed of 0 or more")
        loop_factory(self.event_loop)  # checks the name (and that uvloop is there when asked for)
        if not 1 <= self.workers <= 256:
            raise InputError("workers", self.workers, "give between 1 and 256 load-generator processes")
        if self.api not in ("completions", "chat"):
            raise InputError("api", self.api, "use completions or chat")
        if self.load.kind != "replay" and self.num_requests is None and self.duration_s is None:
            raise InputError("num-requests", None, "give --num-requests N or --duration S")
        if self.num_requests is not None and self.duration_s is not None:
            raise InputError("duration", self.duration_s, "give --num-requests or --duration, not both")
        if self.num_requests is not None and self.num_requests < 1:
            raise InputError("num-requests", self.num_requests, "give at least 1 request")
        if self.duration_s is not None and not self.duration_s > 0:
            raise InputError("duration", self.duration_s, "give a positive duration in seconds")
        if self.warmup_s < 0:
            raise InputError("warmup-s", self.warmup_s, "give a warm-up of 0 seconds or more")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise InputError("timeout", self.timeout_s, "give a positive per-request timeout in seconds")


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


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


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


# ----------------------------------------------------------------------------------------------------
# Calibration: one request before the run checks the API and measures what the server adds to a prompt.


@dataclass(frozen=True, slots=True)
class Calibration:
    control: OutputControl
    exact_output: bool
    overhead_tokens: int
    probe_prompt_tokens: int | None
    notes: tuple[str, ...]


async def _one_request(pool: ConnectionPool, request: bytes, timeout_s: float | None) -> StreamResult:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[StreamResult] = loop.create_future()

    def on_done(h: StreamHandler) -> None:
        if not done.done():
            done.set_result(h.result)

    handler = StreamHandler(keep_text=False, on_done=on_done, sent_t=perf_counter())
    pool.submit(request, handler, timeout_s=timeout_s)
    return await done


async def calibrate(
    pool: ConnectionPool,
    settings: BenchSettings,
    info: ServerInfo,
    builder: PromptBuilder | None,
    headers: dict[str, str],
) -> Calibration:
    """How many tokens the server adds to our prompt content (special tokens, chat template), and which
    output-length controls it takes.

    On vLLM this asks `/tokenize` (no generation, so the server's counters stay exactly the run's);
    elsewhere it sends one short generation request before the run.
    """
    exact = info.is_vllm if settings.exact_output is None else settings.exact_output
    control = OutputControl(ignore_eos=exact, min_tokens=exact, continuous_usage=info.is_vllm)
    probe_spec = RequestSpec(
        request_id="probe",
        arrival_s=0.0,
        prompt_tokens=_PROBE_CONTENT_TOKENS,
        output_tokens=_PROBE_OUTPUT_TOKENS,
    )
    probe_job = closed_loop_job(Workload(name="probe", requests=(probe_spec,)), _PROBE_JOB_INDEX, warmup=True)
    if info.is_vllm and builder is not None:
        built = builder.build(probe_spec, job_index=_PROBE_JOB_INDEX)
        body: dict[str, Any] = {"model": settings.model}
        if settings.api == "chat":
            body["messages"] = [{"role": "user", "content": built.prompt}]
        else:
            body["prompt"] = built.prompt
        resp = await fetch(
            pool,
            "POST",
            "/tokenize",
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
        )
        if resp.status == 200:
            try:
                count = int(resp.json()["count"])
            except Exception:
                count = -1
            if count >= 0:
                overhead = max(0, count - built.content_tokens)
                added = f"the server adds {overhead} prompt tokens (special tokens / chat template)"
                return Calibration(control, exact, overhead, count, (added,) if overhead else ())
    notes: list[str] = []
    for attempt in range(2):
        factory = _factory(settings, pool.endpoint, control, builder, headers)
        job = factory.make(probe_job)
        result = await _one_request(pool, job.request, min(settings.timeout_s or 120.0, 120.0))
        if result.ok:
            break
        uses_extensions = control.ignore_eos or control.min_tokens or control.continuous_usage
        if attempt == 0 and result.error_kind == "http" and result.status in (400, 422) and uses_extensions:
            notes.append(
                f"server rejected vLLM extensions ({result.error}); sent plain OpenAI parameters instead"
            )
            control = OutputControl(ignore_eos=False, min_tokens=False, continuous_usage=False)
            exact = False
            continue
        raise BackendError(
            f"the first request to {pool.endpoint.url('/v1/' + settings.api)} failed: {result.error}. "
            "Fix: check --url, --model and --api, and that the server is healthy."
        )
    notes.append("one probe request was sent before the run (not in the records)")
    overhead = 0
    if result.prompt_tokens is not None and builder is not None:
        overhead = max(0, result.prompt_tokens - job.expected_prompt_tokens)
        if overhead:
            notes.append(f"the server adds {overhead} prompt tokens (special tokens / chat template)")
    elif result.prompt_tokens is None:
        notes.append("the server reports no usage: prompt and output token counts are not checked against it")
    return Calibration(control, exact, overhead, result.prompt_tokens, tuple(notes))


def _factory(
    settings: BenchSettings,
    endpoint: Endpoint,
    control: OutputControl,
    builder: PromptBuilder | None,
    headers: dict[str, str],
) -> RequestFactory:
    return RequestFactory(
        host_header=endpoint.host_header,
        base_path=endpoint.base_path,
        api=settings.api,  # type: ignore[arg-type]
        model=settings.model,
        control=control,
        builder=builder,
        headers=tuple(headers.items()),
        extra_body=settings.extra_body,
    )


# ----------------------------------------------------------------------------------------------------
# Collection: outcomes -> records, written as they arrive.


@dataclass
class Collector:
    t0: float
    writer: RecordWriter
    keep_text: bool
    measured: list[tuple[WireJob, StreamResult, RequestRecord]] = field(default_factory=list)
    warmup: list[RequestRecord] = field(default_factory=list)
    num_failed: int = 0

    def __call__(self, outcome: Outcome) -> None:
        record = to_record(outcome.job, outcome.result, self.t0)
        self.writer.write(record, warmup=outcome.job.warmup)
        if outcome.job.warmup:
            self.warmup.append(record)
            return
        if not record.ok:
            self.num_failed += 1
        if not self.keep_text:
            outcome.result.text_parts = None
        self.measured.append((outcome.job, outcome.result, record))


# ----------------------------------------------------------------------------------------------------
# Scraping /metrics while the run goes.


def _counters(snap: Snapshot) -> tuple[float | None, ...]:
    return tuple(snap.total(*names) for names in COUNTERS.values())


@dataclass
class Scraper:
    pool: ConnectionPool
    headers: dict[str, str]
    t0: float
    interval_s: float
    gpu: GpuTelemetry
    snapshots: list[Snapshot] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    enabled: bool = True
    # How long each scrape took: a server that renders /metrics slowly (vLLM does it in its API process)
    # may also have been slow to stream tokens meanwhile.
    latencies_s: list[float] = field(default_factory=list)

    async def scrape(self) -> Snapshot | None:
        now = perf_counter() - self.t0
        self.gpu.sample(now)
        if not self.enabled:
            return None
        started = perf_counter()
        resp = await fetch(
            self.pool, "GET", "/metrics", headers=self.headers, timeout_s=max(2.0, self.interval_s)
        )
        self.latencies_s.append(perf_counter() - started)
        if resp.status != 200:
            self.failures.append(f"t={now:.1f}s: {resp.error or f'HTTP {resp.status}'}")
            return None
        snap = parse_prometheus(resp.body.decode("utf-8", "replace"), time_s=now)
        self.snapshots.append(snap)
        return snap

    def rebase(self, t0: float) -> None:
        """Move the clock's origin to the run's start (scrapes taken before it get negative times)."""
        shift = t0 - self.t0
        for snap in self.snapshots:
            snap.time_s -= shift
        self.t0 = t0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.scrape()

    async def settled(self, *, attempts: int = 15, pause_s: float = 0.2) -> Snapshot | None:
        """The closing scrape, once the server's counters have caught up with the last response.

        A server may stream a request's last token before it counts it (vLLM records a step's stats after
        sending its outputs), so scrape until no request is running and the counters stop moving.
        """
        previous = await self.scrape()
        for _ in range(attempts):
            if previous is None:
                return None
            await asyncio.sleep(pause_s)
            current = await self.scrape()
            if current is None:
                return previous
            idle = not current.total(RUNNING) and not current.total(WAITING)
            if idle and _counters(current) == _counters(previous):
                return current
            previous = current
        return previous


# ----------------------------------------------------------------------------------------------------


def resolve_tokenizer(settings: BenchSettings, info: ServerInfo, workload: Workload) -> Any:
    if settings.tokenizer:
        return load_tokenizer(settings.tokenizer)
    local = info.local_model_dir(settings.model)
    if local is not None and (local / "tokenizer.json").is_file():
        return load_tokenizer(local)
    if workload.requests and all(r.text is not None for r in workload.requests):
        return None  # real text prompts: the server counts them
    raise InputError(
        "tokenizer",
        None,
        "pass --tokenizer path/to/tokenizer.json (the served model's) so prompts have exact token lengths",
    )


def _install_sigint(loop: asyncio.AbstractEventLoop, on_interrupt: Callable[[], None]) -> bool:
    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        return True
    except (NotImplementedError, RuntimeError, ValueError):
        return False


async def _progress_ticker(progress: ProgressReporter, collector: Collector) -> None:
    while True:
        progress.update(len(collector.measured), collector.num_failed)
        await asyncio.sleep(0.1)


async def _run_async(
    settings: BenchSettings, workload: Workload, progress: ProgressReporter | None
) -> BenchOutcome:
    settings.check()
    endpoint = Endpoint(settings.url)
    headers = auth_headers(settings.api_key)
    control_pool = ConnectionPool(endpoint)
    info = await probe_server(control_pool, headers)
    check_model(info, settings.model)
    tokenizer = resolve_tokenizer(settings, info, workload)
    pool_words = stable_word_pool(tokenizer) if tokenizer is not None else None

    def make_builder(overhead: int) -> PromptBuilder | None:
        if pool_words is None:
            return None
        return PromptBuilder(
            pool_words,
            seed=settings.seed,
            hash_block_size=workload.hash_block_size,
            overhead_tokens=overhead,
            as_token_ids=settings.prompt_as_token_ids,
        )

    calibration = await calibrate(control_pool, settings, info, make_builder(0), headers)
    builder = make_builder(calibration.overhead_tokens)
    factory = _factory(settings, endpoint, calibration.control, builder, headers)

    open_loop = settings.load.kind in ("rate", "replay")
    wire_jobs: list[WireJob] = []
    if open_loop:
        jobs = plan_jobs(
            workload,
            settings.load,
            seed=settings.seed,
            num_requests=settings.num_requests,
            duration_s=settings.duration_s,
            warmup_s=settings.warmup_s,
        )
        wire_jobs = [factory.make(j) for j in jobs]

    keep_text = settings.check_tokens and tokenizer is not None
    closed_plan = None
    if not open_loop:
        assert settings.load.concurrency is not None
        closed_plan = ClosedLoopPlan(
            factory=factory,
            workload=workload,
            users=settings.load.concurrency,
            warmup_s=settings.warmup_s,
            duration_s=settings.duration_s,
            quota=settings.num_requests,
        )
    workers = (
        min(settings.workers, settings.load.concurrency or settings.workers)
        if not open_loop
        else settings.workers
    )
    load = make_load(
        url=settings.url,
        workers=max(1, workers),
        keep_text=keep_text,
        timeout_s=settings.timeout_s,
        prewarm=_prewarm_count(settings, wire_jobs),
        event_loop=settings.event_loop,
        open_jobs=wire_jobs if open_loop else None,
        closed=closed_plan,
    )
    writer = RecordWriter(settings.out_dir)
    loop = asyncio.get_running_loop()
    gpu = GpuTelemetry()
    interrupted = False

    try:
        await load.prepare()
    except BaseException:
        load.close()
        writer.close()
        raise
    scraper = Scraper(
        control_pool, headers, perf_counter(), settings.scrape_interval_s, gpu, enabled=info.metrics_available
    )
    before: Snapshot | None = None
    if settings.warmup_s <= 0:
        # Before t0 is fixed: a slow /metrics must not eat into the first requests' send times.
        before = await scraper.scrape()
    host_cpu = HostCpuMeter()
    t0 = perf_counter() + (0.05 if workers <= 1 else 0.2)
    scraper.rebase(t0)
    collector = Collector(t0=t0, writer=writer, keep_text=keep_text)

    def on_interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        log.warning("interrupted: stopping the run and keeping what was measured")
        load.interrupt()
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)

    sigint = _install_sigint(loop, on_interrupt)
    num_measured_planned = sum(1 for j in wire_jobs if not j.warmup) if open_loop else settings.num_requests
    if progress is not None:
        progress.start(num_measured_planned, f"{settings.load.describe()} -> {endpoint.url('')}")
    tasks: list[asyncio.Task[Any]] = [loop.create_task(scraper.run())]
    if progress is not None:
        tasks.append(loop.create_task(_progress_ticker(progress, collector)))

    async def scrape_at_warmup_end() -> None:
        nonlocal before
        await asyncio.sleep(max(0.0, t0 + settings.warmup_s - perf_counter()))
        before = await scraper.scrape()

    if settings.warmup_s > 0:
        tasks.append(loop.create_task(scrape_at_warmup_end()))
    try:
        await load.run(t0, collector)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if sigint:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signal.SIGINT)
        if progress is not None:
            progress.update(len(collector.measured), collector.num_failed)
            progress.stop()
        writer.close()
        load.close()
    after = await scraper.settled()
    control_pool.close()
    gpu.close()
    return _finish(
        settings=settings,
        workload=workload,
        info=info,
        calibration=calibration,
        collector=collector,
        worker_telemetry=load.telemetry(),
        host_cpu=host_cpu.utilization(),
        scraper=scraper,
        before=before,
        after=after,
        gpu=gpu,
        t0=t0,
        interrupted=interrupted,
        tokenizer=tokenizer,
        open_loop=open_loop,
    )


def _prewarm_count(settings: BenchSettings, jobs: list[WireJob]) -> int:
    """Connections to open before the run: the users of a closed loop, or what an open loop needs in its
    first 50 ms (capped: a connection the run does not need only costs an idle socket)."""
    if settings.load.kind == "concurrency":
        return min(settings.load.concurrency or 1, 512)
    early = sum(1 for j in jobs[:512] if j.send_s is not None and j.send_s - (jobs[0].send_s or 0.0) < 0.05)
    return max(1, min(early, 256))


def _rate(times: np.ndarray) -> float | None:
    if times.size < 2:
        return None
    span = float(times.max() - times.min())
    return (times.size - 1) / span if span > 0 else None


def _finish(
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
    lags = np.asarray(
        [res.sent_t - (t0 + job.send_s) for job, res, _ in measured if job.send_s is not None], dtype=float
    )
    sched = np.asarray([job.send_s for job, _, _ in measured if job.send_s is not None], dtype=float)
    sent = np.asarray([res.sent_t - t0 for job, res, _ in measured if job.send_s is not None], dtype=float)
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
            "time_scale": settings.load.time_scale if settings.load.kind == "replay" else None,
            "num_requests": settings.num_requests,
            "duration_s": settings.duration_s,
            "warmup_s": settings.warmup_s,
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


def run_bench(
    settings: BenchSettings, workload: Workload, *, progress: ProgressReporter | None = None
) -> BenchOutcome:
    """Run one benchmark (blocking). Writes `records.jsonl` and `summary.json` under `settings.out_dir`."""
    settings.check()
    # Objects made before the run (tokenizer, prompts) never become garbage during it: freeze them so a
    # full collection does not pause the event loop for milliseconds mid-run (vLLM's client does the same).
    gc.collect()
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 20_000), threshold[1], threshold[2])
    try:
        return run_with_loop(settings.event_loop, _run_async(settings, workload, progress))
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def api_key_from_env() -> str | None:
    return os.environ.get("SLOTUNE_API_KEY") or os.environ.get("OPENAI_API_KEY") or None
