"""The simulator as a Backend: `Simulator(model, gpu).run(workload, engine_config) -> RunResult`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from slotune import __version__
from slotune.catalog.hardware_profiles import load_profile
from slotune.load import ClosedLoopSchedule, Job, OpenLoopSchedule, Schedule, build_schedule
from slotune.metrics import summarize
from slotune.models import (
    SLO,
    EngineConfig,
    EngineCounters,
    GpuSpec,
    LoadSpec,
    ModelSpec,
    Provenance,
    RequestRecord,
    RequestSpec,
    RunResult,
    RunSummary,
    SimulatorStats,
    Workload,
)
from slotune.models.hardware_profile import HardwareProfile
from slotune.plan.step_cost import ModelCostFacts
from slotune.simulate.block_manager import BlockManager
from slotune.simulate.cost_model import CostModel
from slotune.simulate.deployment import (
    EAGLE_METHODS,
    GPU_DRAFT_METHODS,
    LOOKAHEAD_METHODS,
    Deployment,
    build_deployment,
)
from slotune.simulate.engine import Engine
from slotune.simulate.feed import Admission, ArrivalFeed, ClosedLoopFeed, Feed, RequestMaker
from slotune.simulate.follow_ups import follow_up_outputs
from slotune.simulate.frontend import ClientClockSink, DelayOf, delay_function, delayed_jobs
from slotune.simulate.scheduler import Scheduler, SchedulerLimits
from slotune.simulate.spec_decode import AcceptanceSampler, CounterRng
from slotune.simulate.stats import RecordCollector, StreamingStats
from slotune.workload.digest import workload_digest

ENGINE_SEMANTICS = "vllm-v1 (scheduler.py, kv_cache_manager.py, block_pool.py; see docs/simulator.md)"


class Simulator:
    """vLLM V1 engine simulator implementing the Backend protocol.

    `facts` and `num_gpu_blocks` replace the planner's per-GPU cost facts and KV pool size (tests, calibration);
    `fast_forward=False` schedules every step one by one (reference path, identical results);
    `max_timeline_samples` bounds the returned timeline (see timeline.py for the downsampling).
    """

    name = "simulator"

    def __init__(
        self,
        model: ModelSpec,
        gpu: GpuSpec,
        *,
        profile: HardwareProfile | str | Path | None = None,
        seed: int = 0,
        fast_forward: bool = True,
        max_timeline_samples: int = 20_000,
        facts: ModelCostFacts | None = None,
        num_gpu_blocks: int | None = None,
    ) -> None:
        self.model = model
        self.gpu = gpu
        self.profile = profile if isinstance(profile, HardwareProfile) else load_profile(profile)
        self.seed = seed
        self.fast_forward = fast_forward
        self.max_timeline_samples = max_timeline_samples
        self._facts = facts
        self._num_gpu_blocks = num_gpu_blocks

    def deployment(self, engine_config: EngineConfig) -> Deployment:
        return build_deployment(
            self.model,
            self.gpu,
            engine_config,
            facts=self._facts,
            num_gpu_blocks=self._num_gpu_blocks,
            profile=self.profile,
        )

    def cost_model(self, deployment: Deployment) -> CostModel:
        config = deployment.config
        spec = config.speculative_config
        return CostModel(
            deployment.facts,
            self.gpu,
            self.profile,
            enforce_eager=config.enforce_eager,
            # A device without CUDA graphs (vLLM on CPU) runs every step compiled, or eager.
            capture_sizes=deployment.capture_sizes if self.gpu.has_cuda_graphs else (),
            async_scheduling=config.async_scheduling,
            num_spec_tokens=spec.num_speculative_tokens if spec is not None else 0,
            # n-gram and suffix proposers draft on the CPU: no GPU draft pass.
            draft_cost_ratio=spec.draft_cost_ratio
            if spec is not None and spec.method in GPU_DRAFT_METHODS
            else 0.0,
        )

    def _engine(
        self,
        deployment: Deployment,
        schedule: Schedule | Iterable[Job],
        hash_block_size: int,
        sink: object,
        on_progress: Callable[[int, int | None], None] | None = None,
        known_outputs: Mapping[str, tuple[int, ...]] | None = None,
    ) -> Engine:
        """`known_outputs`: the output token ids follow-ups show, by request id (follow_ups.py)."""
        config = deployment.config
        spec = config.speculative_config
        num_spec = spec.num_speculative_tokens if spec is not None else 0
        method = spec.method if spec is not None else None
        behaviour = deployment.behaviour
        limits = SchedulerLimits(
            max_num_seqs=config.max_num_seqs,
            max_num_batched_tokens=config.max_num_batched_tokens,
            max_model_len=config.max_model_len,
            enable_chunked_prefill=config.enable_chunked_prefill,
            num_spec_tokens=num_spec,
            num_lookahead_tokens=num_spec if method in LOOKAHEAD_METHODS else 0,
            count_every_lookup=not behaviour.counts_lookups_at_admission_only,
        )
        coefficients = self.profile.coefficients
        delay_of = delay_function(coefficients)
        if delay_of is not None:
            sink = ClientClockSink(sink, lambda req: coefficients.frontend_delay_s(req.prompt_tokens))  # type: ignore[arg-type]
        block_manager = BlockManager(
            deployment.num_gpu_blocks,
            config.block_size,
            enable_caching=config.enable_prefix_caching,
            max_model_len=config.max_model_len,
            layout=deployment.layout,
            drop_last_hit_block=method in EAGLE_METHODS,
        )
        maker = RequestMaker(
            Admission(config.max_model_len, trims_max_tokens=behaviour.trims_max_tokens),
            hash_block_size,
            known_outputs or {},
        )
        return Engine(
            scheduler=Scheduler(limits, block_manager),
            cost_model=self.cost_model(deployment),
            feed=_feed(schedule, maker, delay_of=delay_of, min_delay_s=coefficients.frontend_s),
            sink=sink,  # type: ignore[arg-type]
            async_scheduling=config.async_scheduling,
            acceptance=AcceptanceSampler(spec, CounterRng(self.seed)) if spec is not None else None,
            fast_forward=self.fast_forward,
            max_timeline_samples=self.max_timeline_samples,
            on_progress=on_progress,
        )

    @staticmethod
    def _engine_parts(
        engine: Engine, deployment: Deployment, summary: RunSummary
    ) -> tuple[EngineCounters, SimulatorStats]:
        """What the engine did. Token counters as vLLM's: prompt tokens of the requests that finished (cached
        ones included) and the tokens they generated."""
        prompt_tokens, generation_tokens = summary.prompt_tokens, summary.output_tokens
        totals = engine.sampler.totals
        busy = totals["busy_s"]
        usable = deployment.num_gpu_blocks - 1  # block 0 is vLLM's null block
        first = engine.first_arrival_s or 0.0
        span = engine.now_s - first
        queries, hits = int(totals["prefix_queries"]), int(totals["prefix_hits"])
        block_size = deployment.config.block_size

        def per_span(key: str) -> float:
            return totals[key] / span if span > 0 else 0.0

        counters = EngineCounters(
            source="simulator",
            num_gpu_blocks=deployment.num_gpu_blocks,
            block_size=block_size,
            kv_capacity_tokens=deployment.capacity.tokens,
            kv_usage_mean=totals["kv_used_block_s"] / busy / usable if busy > 0 else 0.0,
            kv_usage_max=totals["kv_used_max"] / usable,
            prefix_query_tokens=queries,
            prefix_hit_tokens=hits,
            prefix_hit_rate=hits / queries if queries else None,
            num_preemptions=int(totals["preemptions"]),
            prompt_tokens=prompt_tokens,
            generation_tokens=generation_tokens,
            num_running_mean=per_span("running_s"),
            num_running_max=totals["running_max"],
            num_waiting_mean=per_span("waiting_s"),
            num_waiting_max=totals["waiting_max"],
        )
        stats = SimulatorStats(
            num_steps=engine.log.num_steps,
            num_fast_steps=engine.num_fast_steps,
            busy_s=busy,
            num_evicted_blocks=engine.block_manager.num_evicted_blocks,
            in_flight_mean=per_span("in_flight_s"),
        )
        return counters, stats

    def _provenance(self, workload_name: str, workload_digest: str, *, streamed: bool) -> Provenance:
        return Provenance(
            backend=self.name,
            slotune_version=__version__,
            workload_digest=workload_digest,
            workload_name=workload_name,
            model=self.model.name,
            gpu=self.gpu.name,
            seed=self.seed,
            engine_version=ENGINE_SEMANTICS,
            extra={
                "profile": self.profile.label,
                "vllm_version": self.profile.vllm_version,
                "fast_forward": str(self.fast_forward).lower(),
                "streamed": str(streamed).lower(),
            },
        )

    def run(
        self,
        workload: Workload,
        engine_config: EngineConfig,
        *,
        load: LoadSpec | None = None,
        slo: SLO | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
        on_record: Callable[[RequestRecord], None] | None = None,
    ) -> RunResult:
        """Simulate `workload` under `load` (default: replayed at its own arrival times) on the schedule
        `slotune.load.build_schedule` makes with this simulator's seed, the one `bench` sends. The result keeps
        per-request records (warm-up requests are simulated, not reported) and the (downsampled) timeline.
        `on_progress` is called now and then with the requests sent so far and the number planned;
        `on_record` with each measured request as it finishes (an exception it raises ends the run)."""
        deployment = self.deployment(engine_config)
        load = load or LoadSpec()
        schedule = build_schedule(workload, load, self.seed)
        collector = RecordCollector(on_record)
        outputs = follow_up_outputs(workload.requests) if engine_config.enable_prefix_caching else {}
        engine = self._engine(deployment, schedule, workload.hash_block_size, collector, on_progress, outputs)
        engine.run()
        engine.finalize_timeline()
        records = tuple(sorted(collector.records, key=lambda r: (r.arrival_s, r.request_id)))
        duration = _measured_s(engine, self.profile.coefficients.frontend_s)
        summary = summarize(records, duration_s=duration, slo=slo)
        counters, stats = self._engine_parts(engine, deployment, summary)
        return RunResult(
            provenance=self._provenance(workload.name, workload_digest(workload), streamed=False),
            engine_config=deployment.config,
            load=load,
            slo=slo,
            records=records,
            timeline=engine.sampler.samples(deployment.num_gpu_blocks - 1),
            duration_s=duration,
            num_requests=len(records),
            summary=summary,
            engine=counters,
            simulator=stats,
        )

    def run_streaming(
        self,
        requests: Iterable[RequestSpec],
        engine_config: EngineConfig,
        *,
        slo: SLO | None = None,
        hash_block_size: int = 16,
        workload_name: str = "stream",
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> RunResult:
        """Simulate requests read lazily, in arrival order, replayed at their own arrival times (from the first
        one's, as `run` does), keeping only running statistics: memory stays bounded whatever the number of
        requests (records are dropped; percentiles come from quantile sketches)."""
        deployment = self.deployment(engine_config)
        stats_sink = StreamingStats(slo)
        engine = self._engine(deployment, _replayed(requests), hash_block_size, stats_sink, on_progress)
        engine.run()
        engine.finalize_timeline()
        duration = _measured_s(engine, self.profile.coefficients.frontend_s)
        summary = stats_sink.run_summary(duration)
        counters, stats = self._engine_parts(engine, deployment, summary)
        return RunResult(
            provenance=self._provenance(workload_name, "", streamed=True),
            engine_config=deployment.config,
            slo=slo,
            records=(),
            timeline=engine.sampler.samples(deployment.num_gpu_blocks - 1),
            duration_s=duration,
            num_requests=stats_sink.num_requests,
            summary=summary,
            engine=counters,
            simulator=stats,
        )


def _feed(
    schedule: Schedule | Iterable[Job],
    maker: RequestMaker,
    *,
    delay_of: DelayOf | None = None,
    min_delay_s: float = 0.0,
) -> Feed:
    """The engine's arrivals; with a frontend delay each request reaches the engine that long after its send."""
    if isinstance(schedule, ClosedLoopSchedule):
        return ClosedLoopFeed(schedule, maker=maker, delay_of=delay_of)
    jobs: Iterable[Job] = schedule.jobs if isinstance(schedule, OpenLoopSchedule) else schedule
    num_planned = len(schedule.jobs) if isinstance(schedule, OpenLoopSchedule) else None
    if delay_of is not None:
        jobs = delayed_jobs(jobs, delay_of, min_delay_s)
    return ArrivalFeed(jobs, maker=maker, num_planned=num_planned)


def _replayed(requests: Iterable[RequestSpec]) -> Iterator[Job]:
    """A stream of requests as a replay's jobs: sent at their arrival times less the first one's."""
    first_s: float | None = None
    for i, spec in enumerate(requests):
        if first_s is None:
            first_s = spec.arrival_s
        yield Job(i, spec, 0, spec.arrival_s - first_s, False)


def _measured_s(engine: Engine, frontend_s: float = 0.0) -> float:
    """From the first measured request's send (its arrival at the engine less the profile's fixed frontend
    time, after the warm-up) to the end of the last step."""
    first = engine.first_measured_arrival_s
    if first is None:
        first = engine.first_arrival_s or 0.0
    return max(engine.now_s - first + frontend_s, 1e-9)
