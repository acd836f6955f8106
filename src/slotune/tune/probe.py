"""One run of a configuration at one load level, on the simulator or a real engine, judged against the SLO.

`SimProber` runs the embedded simulator and stops a run as soon as more requests have missed the SLO than
its target attainment allows (the verdict is then known: the SLO does not hold), which makes the overloaded
levels of a capacity search cheap. `EngineProber` runs a `VllmBackend` (a real vLLM it starts, reused while
the flags stay the same) at the level's load.
"""

from __future__ import annotations

import functools
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from slotune.catalog import get_gpu, get_model
from slotune.models import (
    SLO,
    EngineConfig,
    EngineCounters,
    HardwareProfile,
    LoadSpec,
    RequestRecord,
    RunSummary,
    Workload,
)
from slotune.models.tune import Candidate
from slotune.slo import request_meets_slo
from slotune.slo.evaluate import request_value

# Timeline samples kept per probe: the search reads counters, not timelines.
PROBE_TIMELINE_SAMPLES = 64


@dataclass(frozen=True, slots=True)
class Measured:
    """What one run told the search. `summary` is None when the run was stopped early."""

    summary: RunSummary | None
    engine: EngineCounters | None
    stopped_early: bool
    wall_s: float
    # SLO term (e.g. "ttft<200ms", "error") -> requests that missed it.
    missed: dict[str, int] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.summary is not None and bool(self.summary.slo_met)


class Prober(Protocol):
    backend: str
    noisy: bool  # repeats of the same run differ (a real engine); the simulator is deterministic

    def measure(self, candidate: Candidate, config: EngineConfig, load: LoadSpec, slo: SLO) -> Measured: ...


def term_name(metric: str, stat: str, threshold: float) -> str:
    return f"{metric} {stat}<{threshold * 1e3:g}ms"


def missed_terms(record: RequestRecord, slo: SLO) -> list[str]:
    """The SLO's latency terms this request missed (or "error" when it did not finish well)."""
    if not record.ok:
        return ["error"]
    out = []
    for target in slo.targets:
        if target.is_latency:
            value = request_value(record, target)
            if value is not None and value > target.threshold:
                out.append(term_name(target.metric, target.stat, target.threshold))
    return out


def surely_meets(record: RequestRecord, slo: SLO) -> bool:
    """A cheap sufficient check: finished well and no latency over any threshold, the ITL by its largest gap
    (any percentile of the gaps is at most the largest)."""
    if not record.ok or record.ttft_s is None or record.e2e_s is None:
        return False
    times = record.chunk_times_s
    max_gap = float(np.diff(np.asarray(times)).max()) if len(times) > 1 else 0.0
    for target in slo.targets:
        value = {"ttft": record.ttft_s, "e2e": record.e2e_s, "tpot": record.tpot_s, "itl": max_gap}.get(
            target.metric
        )
        if value is not None and value > target.threshold:
            return False
    return True


class _Hopeless(Exception):
    """More requests missed the SLO than its attainment target allows: the run cannot meet it."""


class FailureBudget:
    """Counts requests that miss the SLO as they finish; raises _Hopeless past the budget."""

    def __init__(self, slo: SLO, num_requests: int | None) -> None:
        self.slo = slo
        self.allowed = (
            None if num_requests is None else math.floor((1.0 - slo.attainment_target) * num_requests + 1e-9)
        )
        self.missed: Counter[str] = Counter()
        self.num_missed = 0

    def __call__(self, record: RequestRecord) -> None:
        if surely_meets(record, self.slo) or request_meets_slo(record, self.slo):
            return
        self.num_missed += 1
        self.missed.update(missed_terms(record, self.slo) or ["other"])
        if self.allowed is not None and self.num_missed > self.allowed:
            raise _Hopeless


def count_missed(records: tuple[RequestRecord, ...], slo: SLO) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for record in records:
        if not surely_meets(record, slo):
            counts.update(missed_terms(record, slo))
    return dict(counts)


class SimProber:
    """The simulator as a probe: same workload, seed and profile for every configuration."""

    backend = "simulator"
    noisy = False

    def __init__(
        self,
        workload: Workload,
        *,
        profile: HardwareProfile | str | Path | None = None,
        seed: int = 0,
        stop_early: bool = True,
    ) -> None:
        from slotune.catalog.hardware_profiles import load_profile

        self.workload = workload
        self.profile = profile if isinstance(profile, HardwareProfile) else load_profile(profile)
        self.seed = seed
        self.stop_early = stop_early
        self.num_runs = 0

    @functools.cache  # noqa: B019 - one simulator per (model, GPU) for the prober's life
    def _simulator(self, model: str, gpu: str) -> Any:
        from slotune.simulate import Simulator

        return Simulator(
            get_model(model),
            get_gpu(gpu),
            profile=self.profile,
            seed=self.seed,
            max_timeline_samples=PROBE_TIMELINE_SAMPLES,
        )

    def measure(self, candidate: Candidate, config: EngineConfig, load: LoadSpec, slo: SLO) -> Measured:
        sim = self._simulator(candidate.model, candidate.gpu)
        budget = FailureBudget(slo, load.num_requests if self.stop_early else None)
        started = time.perf_counter()
        self.num_runs += 1
        try:
            result = sim.run(self.workload, config, load=load, slo=slo, on_record=budget)
        except _Hopeless:
            return Measured(None, None, True, time.perf_counter() - started, dict(budget.missed))
        return Measured(
            result.summary, result.engine, False, time.perf_counter() - started, dict(budget.missed)
        )


class EngineProber:
    """A real engine as a probe: `backend` is a VllmBackend (it starts the server for each configuration and
    empties the prefix cache between runs); `http_options` go to each run's HttpBackend (tokenizer, api, ...)."""

    backend = "vllm"
    noisy = True

    def __init__(
        self,
        backend: Any,
        workload: Workload,
        *,
        seed: int = 0,
        http_options: dict[str, Any] | None = None,
        on_run: Callable[[Candidate, EngineConfig, LoadSpec], None] | None = None,
    ) -> None:
        self.vllm = backend
        self.workload = workload
        self.seed = seed
        self.http_options = dict(http_options or {})
        self.on_run = on_run
        self.num_runs = 0

    def measure(self, candidate: Candidate, config: EngineConfig, load: LoadSpec, slo: SLO) -> Measured:
        from slotune.bench import HttpBackend

        if self.on_run is not None:
            self.on_run(candidate, config, load)
        self.vllm.http_backend = functools.partial(
            HttpBackend, load=load, seed=self.seed, **self.http_options
        )
        started = time.perf_counter()
        self.num_runs += 1
        result = self.vllm.run(self.workload, config, slo=slo)
        return Measured(
            result.summary,
            result.engine,
            False,
            time.perf_counter() - started,
            count_missed(result.records, slo),
        )
