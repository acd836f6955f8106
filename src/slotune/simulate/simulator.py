"""The simulator as a Backend: `Simulator(model, gpu).run(workload, engine_config) -> RunResult`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from slotune import __version__
from slotune.load import ClosedLoopSchedule, Job, OpenLoopSchedule, Schedule, build_schedule
from slotune.metrics import RunSummary, summarize
from slotune.models import (
    SLO,
    EngineConfig,
    GpuSpec,
    LoadSpec,
    ModelSpec,
    Provenance,
    RequestSpec,
    RunResult,
    Workload,
)
from slotune.simulate.block_manager import BlockManager
from slotune.simulate.cost_model import CostModel, ModelCostFacts
from slotune.simulate.deployment import Deployment, build_deployment
from slotune.simulate.engine import Engine
from slotune.simulate.feed import ArrivalFeed, ClosedLoopFeed, Feed
from slotune.simulate.profile import HardwareProfile, load_profile
from slotune.simulate.scheduler import Scheduler, SchedulerLimits
from slotune.simulate.spec_decode import AcceptanceSampler, CounterRng
from slotune.simulate.stats import RecordCollector, StreamingStats

ENGINE_SEMANTICS = "vllm-v1 (scheduler.py, kv_cache_manager.py, block_pool.py; see docs/simulator.md)"


@dataclass(frozen=True, slots=True)
class EngineStats:
    """What the engine did, beyond per-request records."""

    num_steps: int
    num_fast_steps: int
    num_gpu_blocks: int
    block_size: int
    busy_s: float
    kv_usage_mean: float  # duration-weighted over busy time
    kv_usage_max: float
    prefix_query_tokens: int
    prefix_hit_tokens: int
    num_preemptions: int
    num_evicted_blocks: int
    in_flight_mean: float  # time-average of running + waiting requests over the run

    @property
    def prefix_hit_rate(self) -> float | None:
        return self.prefix_hit_tokens / self.prefix_query_tokens if self.prefix_query_tokens else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "num_steps": self.num_steps,
            "num_fast_steps": self.num_fast_steps,
            "num_gpu_blocks": self.num_gpu_blocks,
            "kv_capacity_tokens": (self.num_gpu_blocks - 1) * self.block_size,
            "busy_s": self.busy_s,
            "kv_usage_mean": self.kv_usage_mean,
            "kv_usage_max": self.kv_usage_max,
            "prefix_query_tokens": self.prefix_query_tokens,
            "prefix_hit_tokens": self.prefix_hit_tokens,
            "prefix_hit_rate": self.prefix_hit_rate,
            "num_preemptions": self.num_preemptions,
            "num_evicted_blocks": self.num_evicted_blocks,
            "in_flight_mean": self.in_flight_mean,
        }


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
        self.last_engine_stats: EngineStats | None = None
        self.last_summary: RunSummary | None = None

    def deployment(self, engine_config: EngineConfig) -> Deployment:
        return build_deployment(
            self.model, self.gpu, engine_config, facts=self._facts, num_gpu_blocks=self._num_gpu_blocks
        )

    def cost_model(self, deployment: Deployment) -> CostModel:
        config = deployment.config
        spec = config.speculative_config
        return CostModel(
            deployment.facts,
            self.gpu,
            self.profile,
            enforce_eager=config.enforce_eager,
            capture_sizes=deployment.capture_sizes,
            async_scheduling=config.async_scheduling,
            num_spec_tokens=spec.num_speculative_tokens if spec is not None else 0,
            draft_cost_ratio=spec.draft_cost_ratio if spec is not None else 0.0,
        )

    def _engine(
        self,
        deployment: Deployment,
        schedule: Schedule | Iterable[Job],
        hash_block_size: int,
        sink: object,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> Engine:
        config = deployment.config
        assert config.max_model_len is not None and config.max_num_seqs is not None
        assert config.max_num_batched_tokens is not None
        spec = config.speculative_config
        num_spec = spec.num_speculative_tokens if spec is not None else 0
        limits = SchedulerLimits(
            max_num_seqs=config.max_num_seqs,
            max_num_batched_tokens=config.max_num_batched_tokens,
            max_model_len=config.max_model_len,
            enable_chunked_prefill=config.enable_chunked_prefill,
            num_spec_tokens=num_spec,
            num_lookahead_tokens=num_spec if spec is not None and spec.method != "ngram" else 0,
        )
        block_manager = BlockManager(
            deployment.num_gpu_blocks,
            config.block_size,
            enable_caching=config.enable_prefix_caching,
            max_model_len=config.max_model_len,
        )
        return Engine(
            scheduler=Scheduler(limits, block_manager),
            cost_model=self.cost_model(deployment),
            feed=_feed(schedule, hash_block_size=hash_block_size, max_model_len=config.max_model_len),
            sink=sink,  # type: ignore[arg-type]
            async_scheduling=config.async_scheduling,
            acceptance=AcceptanceSampler(spec, CounterRng(self.seed)) if spec is not None else None,
            fast_forward=self.fast_forward,
            max_timeline_samples=self.max_timeline_samples,
            on_progress=on_progress,
        )

    def _engine_stats(self, engine: Engine, deployment: Deployment) -> EngineStats:
        totals = engine.sampler.totals
        busy = totals["busy_s"]
        usable = deployment.num_gpu_blocks - 1
        first = engine.first_arrival_s or 0.0
        span = engine.now_s - first
        return EngineStats(
            num_steps=engine.log.num_steps,
            num_fast_steps=engine.num_fast_steps,
            num_gpu_blocks=deployment.num_gpu_blocks,
            block_size=deployment.config.block_size,
            busy_s=busy,
            kv_usage_mean=totals["kv_used_block_s"] / busy / usable if busy > 0 else 0.0,
            kv_usage_max=totals["kv_used_max"] / usable,
            prefix_query_tokens=int(totals["prefix_queries"]),
            prefix_hit_tokens=int(totals["prefix_hits"]),
            num_preemptions=int(totals["preemptions"]),
            num_evicted_blocks=engine.block_manager.num_evicted_blocks,
            in_flight_mean=totals["in_flight_s"] / span if span > 0 else 0.0,
        )

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
                "fast_forward": str(self.fast_forward).lower(),
                "streamed": str(streamed).lower(),
            },
        )

    @staticmethod
    def _flat_summary(summary: RunSummary, stats: EngineStats) -> dict[str, float | int | str | None]:
        flat: dict[str, float | int | str | None] = {}
        for key, value in summary.model_dump(mode="json").items():
            if isinstance(value, dict) and key.endswith("_s"):
                for stat, v in value.items():
                    flat[f"{key}.{stat}"] = v
            elif isinstance(value, int | float | str) or value is None:
                flat[key] = value
        for key, value in stats.as_dict().items():
            if key != "num_fast_steps":  # how the result was computed, not what it is
                flat[f"engine.{key}"] = value
        return flat

    def run(
        self,
        workload: Workload,
        engine_config: EngineConfig,
        *,
        load: LoadSpec | None = None,
        slo: SLO | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> RunResult:
        """Simulate `workload` under `load` (default: replayed at its own arrival times) on the schedule
        `slotune.load.build_schedule` makes with this simulator's seed, the one `bench` sends. The result keeps
        per-request records (warm-up requests are simulated, not reported) and the (downsampled) timeline.
        `on_progress` is called now and then with the requests sent so far and the number planned."""
        deployment = self.deployment(engine_config)
        schedule = build_schedule(workload, load or LoadSpec(), self.seed)
        collector = RecordCollector()
        engine = self._engine(deployment, schedule, workload.hash_block_size, collector, on_progress)
        engine.run()
        engine.finalize_timeline()
        stats = self._engine_stats(engine, deployment)
        records = tuple(sorted(collector.records, key=lambda r: (r.arrival_s, r.request_id)))
        duration = _measured_s(engine)
        summary = summarize(records, duration_s=duration, slo=slo)
        self.last_engine_stats, self.last_summary = stats, summary
        return RunResult(
            provenance=self._provenance(workload.name, workload.digest, streamed=False),
            engine_config=deployment.config,
            records=records,
            timeline=engine.sampler.samples(deployment.num_gpu_blocks - 1),
            duration_s=duration,
            num_requests=len(records),
            summary=self._flat_summary(summary, stats),
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
        stats = self._engine_stats(engine, deployment)
        duration = _measured_s(engine)
        summary = stats_sink.run_summary(duration)
        self.last_engine_stats, self.last_summary = stats, summary
        flat = self._flat_summary(summary, stats)
        flat["quantile_relative_error"] = stats_sink.ttft.relative_accuracy
        return RunResult(
            provenance=self._provenance(workload_name, "", streamed=True),
            engine_config=deployment.config,
            records=(),
            timeline=engine.sampler.samples(deployment.num_gpu_blocks - 1),
            duration_s=duration,
            num_requests=stats_sink.num_requests,
            summary=flat,
        )


def _feed(schedule: Schedule | Iterable[Job], *, hash_block_size: int, max_model_len: int) -> Feed:
    if isinstance(schedule, ClosedLoopSchedule):
        return ClosedLoopFeed(schedule, hash_block_size=hash_block_size, max_model_len=max_model_len)
    if isinstance(schedule, OpenLoopSchedule):
        return ArrivalFeed(
            schedule.jobs,
            hash_block_size=hash_block_size,
            max_model_len=max_model_len,
            num_planned=len(schedule.jobs),
        )
    return ArrivalFeed(schedule, hash_block_size=hash_block_size, max_model_len=max_model_len)


def _replayed(requests: Iterable[RequestSpec]) -> Iterator[Job]:
    """A stream of requests as a replay's jobs: sent at their arrival times less the first one's."""
    first_s: float | None = None
    for i, spec in enumerate(requests):
        if first_s is None:
            first_s = spec.arrival_s
        yield Job(i, spec, 0, spec.arrival_s - first_s, False)


def _measured_s(engine: Engine) -> float:
    """From the first measured request's arrival (after the warm-up) to the end of the last step."""
    first = engine.first_measured_arrival_s
    if first is None:
        first = engine.first_arrival_s or 0.0
    return max(engine.now_s - first, 1e-9)
