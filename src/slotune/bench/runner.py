"""One benchmark run against a live server: probe the prompt overhead, send the load, collect, check, write."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from tokenizers import Tokenizer

from slotune.bench.context_fit import fit_to_context
from slotune.bench.executors import ClosedLoopPlan, make_load
from slotune.bench.loops import run_with_loop
from slotune.bench.probe import make_factory, probe_prompt
from slotune.bench.prompts import PromptBuilder, TokenPool, stable_word_pool
from slotune.bench.results import Collector, RecordWriter
from slotune.bench.scrape import Scraper
from slotune.bench.seed_history import earlier_use, remember, unused_seed
from slotune.bench.seed_history import warning as seed_warning
from slotune.bench.server_info import ServerInfo, check_model, probe_server
from slotune.bench.server_metrics import PROMPT_TOKENS, Snapshot
from slotune.bench.server_words import server_word_pool
from slotune.bench.settings import BenchSettings, ProgressReporter, api_key_from_env, auth_headers
from slotune.bench.summary import BenchOutcome, RunInputs, build_outcome, sanitized_command
from slotune.bench.telemetry import GpuTelemetry, HostCpuMeter, is_this_host
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.bench.worker import WireJob
from slotune.errors import InputError
from slotune.load import OpenLoopSchedule, build_schedule
from slotune.models import Workload
from slotune.workload.tokenizer import load_tokenizer, tokenizer_file

log = logging.getLogger(__name__)

__all__ = [
    "BenchOutcome",
    "BenchSettings",
    "ProgressReporter",
    "api_key_from_env",
    "auth_headers",
    "run_bench",
    "sanitized_command",
]


@dataclass(frozen=True, slots=True)
class PromptWords:
    """Where the words of generated prompts come from."""

    pool: TokenPool | None  # None: the workload's own texts are sent as they are
    tokenizer: Tokenizer | None  # a local tokenizer, which also recounts the generated text afterwards
    note: str | None = None


def model_folder_tokenizer(settings: BenchSettings, info: ServerInfo) -> Tokenizer | None:
    """The model folder's tokenizer, when --model is a local folder or the server says where it loaded the
    model from (vLLM's `root`) and that folder is on this machine."""
    for folder in (Path(settings.model), info.local_model_dir(settings.model)):
        if folder is not None and folder.is_dir() and tokenizer_file(folder) is not None:
            return load_tokenizer(folder)
    return None


async def resolve_prompt_words(
    settings: BenchSettings,
    info: ServerInfo,
    workload: Workload,
    pool: ConnectionPool,
    headers: dict[str, str],
) -> PromptWords:
    """--tokenizer; else the server's own tokenizer through /tokenize; else the model folder's tokenizer."""
    if settings.tokenizer:
        tokenizer = load_tokenizer(settings.tokenizer)
        return PromptWords(stable_word_pool(tokenizer), tokenizer)
    local = model_folder_tokenizer(settings, info)
    if workload.requests and all(r.text is not None for r in workload.requests):
        return PromptWords(None, local)  # real text prompts: the server counts them
    words = await server_word_pool(pool, headers, settings.model)
    if words is not None:
        return PromptWords(words, local, "prompt words from the server's /tokenize (no --tokenizer given)")
    if local is not None:
        return PromptWords(stable_word_pool(local), local)
    raise InputError(
        "tokenizer",
        None,
        "pass --tokenizer path/to/tokenizer.json (the served model's), or the model folder as --model, "
        "so prompts have exact token lengths",
        problem="no tokenizer file given and the server offers no /tokenize",
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
    schedule = build_schedule(workload, settings.load, settings.seed)  # bad input fails before any request
    endpoint = Endpoint(settings.url)
    headers = auth_headers(settings.api_key)
    control_pool = ConnectionPool(endpoint)
    info = await probe_server(control_pool, headers)
    check_model(info, settings.model)
    words = await resolve_prompt_words(settings, info, workload, control_pool, headers)
    tokenizer, pool_words = words.tokenizer, words.pool

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

    probe = await probe_prompt(control_pool, settings, info, make_builder(0), headers)
    fit = fit_to_context(
        workload, info.max_model_len(settings.model), probe.overhead_tokens, clip=settings.clip_prompts
    )
    if fit.workload is not workload:
        workload = fit.workload
        schedule = build_schedule(workload, settings.load, settings.seed)
    notes = (words.note, fit.note, _repeated_seed_note(settings, info))
    probe = dataclasses.replace(probe, notes=(*(n for n in notes if n), *probe.notes))
    builder = make_builder(probe.overhead_tokens)
    factory = make_factory(settings, endpoint, probe.control, builder, headers)

    open_loop = isinstance(schedule, OpenLoopSchedule)
    wire_jobs: list[WireJob] = []
    closed_plan = None
    if isinstance(schedule, OpenLoopSchedule):
        wire_jobs = [factory.make(j) for j in schedule.jobs]
        num_measured_planned: int | None = schedule.num_measured
        workers = settings.workers
    else:
        closed_plan = ClosedLoopPlan.of(factory, schedule)
        num_measured_planned = schedule.quota
        workers = min(settings.workers, schedule.users)
    keep_text = settings.check_tokens and tokenizer is not None
    spare = _spare_count(wire_jobs) if open_loop else 0
    load = make_load(
        url=settings.url,
        workers=max(1, workers),
        keep_text=keep_text,
        timeout_s=settings.timeout_s,
        prewarm=_prewarm_count(settings, wire_jobs, spare),
        spare=spare,
        event_loop=settings.event_loop,
        open_jobs=wire_jobs if open_loop else None,
        closed=closed_plan,
    )
    writer = RecordWriter(settings.out_dir)
    loop = asyncio.get_running_loop()
    gpu = GpuTelemetry(enabled=is_this_host(endpoint.host))
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
    warmup_s = settings.load.warmup_s
    if warmup_s <= 0:
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
    if progress is not None:
        progress.start(num_measured_planned, f"{settings.load.describe()} -> {endpoint.url('')}")
    tasks: list[asyncio.Task[Any]] = [loop.create_task(scraper.run())]
    if progress is not None:
        tasks.append(loop.create_task(_progress_ticker(progress, collector)))

    async def scrape_at_warmup_end() -> None:
        nonlocal before
        await asyncio.sleep(max(0.0, t0 + warmup_s - perf_counter()))
        before = await scraper.scrape()

    if warmup_s > 0:
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
    counter = after.total(PROMPT_TOKENS) if after is not None else info.prompt_tokens_total
    remember(settings.url, settings.model, settings.seed, counter)
    gpu.close()
    return build_outcome(
        RunInputs(
            settings=settings,
            workload=workload,
            info=info,
            probe=probe,
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
    )


def _repeated_seed_note(settings: BenchSettings, info: ServerInfo) -> str | None:
    """A warning when this server was already sent this seed's prompts (slotune.bench.seed_history)."""
    earlier = earlier_use(settings.url, settings.model, settings.seed, info.prompt_tokens_total)
    if earlier is None:
        return None
    return seed_warning(earlier, fresh_seed=unused_seed(settings.url, settings.model))


def _prewarm_count(settings: BenchSettings, jobs: list[WireJob], spare: int) -> int:
    """Connections to open before the run: the users of a closed loop; for an open loop, what its first
    100 ms need plus the spare ones (capped: a connection the run does not need only costs an idle socket,
    while one opened mid-run costs both ends a handshake just when the load ramps up)."""
    if settings.load.kind == "concurrency":
        return min(settings.load.concurrency or 1, 512)
    first = (jobs[0].send_s or 0.0) if jobs else 0.0
    early = sum(1 for j in jobs[:1024] if j.send_s is not None and j.send_s - first < 0.1)
    return max(1, min(early + spare, 512))


def _spare_count(jobs: list[WireJob], window_s: float = 0.025) -> int:
    """Idle connections an open loop keeps ready: the most sends its schedule makes in any 25 ms (a TCP
    connect on a LAN takes well under that), so a connect in the background keeps up with a burst."""
    times = sorted(j.send_s for j in jobs if j.send_s is not None)
    most = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] > window_s:
            start += 1
        most = max(most, end - start + 1)
    return min(most, 256)


def run_bench(
    settings: BenchSettings, workload: Workload, *, progress: ProgressReporter | None = None
) -> BenchOutcome:
    """Run one benchmark (blocking). Writes `records.jsonl` and `result.json` under `settings.out_dir`."""
    settings.check()
    return run_with_loop(settings.event_loop, _run_async(settings, workload, progress))
