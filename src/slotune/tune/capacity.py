"""The SLO capacity search: the highest request rate per replica at which the SLO holds with its target
attainment, on the user's workload and load shape (the rate is the only thing that changes).

Bracket, then bisect: from a starting rate, multiply by a step while the SLO holds (divide while it does
not) until one rate holds and the next does not; then bisect geometrically until the two are within
`rel_tol`. From an informed start (a similar configuration's capacity, or the simulator's prediction) the
first step is the tolerance itself (x1.05) and squares at each further step up to `grow` (x2): a capacity
within 5% of the start is found in two levels instead of six; one far away costs a level or two more. A level is `repeats` runs; it holds when every repeat met the SLO (so a noisy engine's capacity
errs low). Where repeats disagree the interval [highest level where all held, lowest level where none did]
is reported as the capacity's confidence interval.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass

from slotune.models import SLO, EngineConfig, LoadSpec
from slotune.models.tune import AtCapacity, Candidate, CapacityResult, ProbeResult
from slotune.tune.binding import find_binding
from slotune.tune.probe import Measured, Prober

SUSTAINED_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class SearchLimits:
    rel_tol: float = 0.05
    grow: float = 2.0
    min_rps: float = 1e-3
    max_rps: float = 1e4
    max_levels: int = 16
    repeats: int = 1


def sustained(run: Measured, rate_rps: float) -> bool:
    """The run kept up with the offered rate: its requests completed at >= 90% of it, counting the drain at
    the end as one median E2E (n / (send span + median E2E), as a sweep does). Without this a short run at a
    huge rate is one batch that drains within a loose latency limit."""
    summary = run.summary
    if summary is None or summary.num_requests < 2:
        return summary is not None
    span_s = (summary.num_requests - 1) / rate_rps
    drain_s = summary.e2e_s.p50 or 0.0
    completion_rps = summary.num_ok / (span_s + drain_s) if span_s + drain_s > 0 else math.inf
    return completion_rps >= SUSTAINED_SHARE * rate_rps


def _held(run: Measured, rate_rps: float) -> bool:
    return run.met and sustained(run, rate_rps)


@dataclass(frozen=True, slots=True)
class _Level:
    rate_rps: float
    runs: tuple[Measured, ...]

    @property
    def held(self) -> bool:
        return all(_held(run, self.rate_rps) for run in self.runs)

    @property
    def none_held(self) -> bool:
        return not any(_held(run, self.rate_rps) for run in self.runs)


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _failed_term(level: _Level, slo: SLO) -> str | None:
    """The SLO term most requests missed at this level (or the run-level target that failed)."""
    if level.held:
        return None
    missed: Counter[str] = Counter()
    for run in level.runs:
        missed.update(run.missed)
    if missed:
        return missed.most_common(1)[0][0]
    if any(run.met for run in level.runs):
        return "throughput (requests complete slower than they arrive)"
    for run in level.runs:
        if run.summary is not None:
            for target in run.summary.targets:
                if not target.passed:
                    return f"{target.metric} {target.stat}"
    return "attainment"


def probe_result(level: _Level, slo: SLO) -> ProbeResult:
    summaries = [run.summary for run in level.runs if run.summary is not None]
    return ProbeResult(
        rate_rps=level.rate_rps,
        held=level.held,
        repeats=len(level.runs),
        num_met=sum(_held(run, level.rate_rps) for run in level.runs),
        attainment=_mean([s.slo_attainment for s in summaries if s.slo_attainment is not None]),
        goodput_rps=_mean([s.goodput_rps for s in summaries if s.goodput_rps is not None]),
        goodput_output_tokens_per_s=_mean(
            [s.goodput_output_tokens_per_s for s in summaries if s.goodput_output_tokens_per_s is not None]
        ),
        output_tokens_per_s=_mean([s.output_tokens_per_s for s in summaries]),
        failed_term=_failed_term(level, slo),
        stopped_early=any(run.stopped_early for run in level.runs),
        wall_s=sum(run.wall_s for run in level.runs),
    )


def at_capacity(level: _Level) -> AtCapacity:
    """Means over the repeats of the level where the SLO held."""
    summaries = [run.summary for run in level.runs if run.summary is not None]
    engines = [run.engine for run in level.runs if run.engine is not None]
    goodputs = [s.goodput_rps or 0.0 for s in summaries]

    def mean_of(values: list[float | None]) -> float | None:
        return _mean([v for v in values if v is not None and math.isfinite(v)])

    return AtCapacity(
        rate_rps=level.rate_rps,
        attainment=mean_of([s.slo_attainment for s in summaries]) or 0.0,
        goodput_rps=statistics.fmean(goodputs),
        goodput_output_tokens_per_s=mean_of([s.goodput_output_tokens_per_s for s in summaries]) or 0.0,
        output_tokens_per_s=statistics.fmean([s.output_tokens_per_s for s in summaries]),
        ttft_p99_s=mean_of([s.ttft_s.p99 for s in summaries]),
        itl_p99_s=mean_of([s.itl_s.p99 for s in summaries]),
        tpot_p50_s=mean_of([s.tpot_s.p50 for s in summaries]),
        e2e_p99_s=mean_of([s.e2e_s.p99 for s in summaries]),
        kv_usage_max=mean_of([e.kv_usage_max for e in engines]),
        num_running_max=mean_of([e.num_running_max for e in engines]),
        num_waiting_mean=mean_of([e.num_waiting_mean for e in engines]),
        num_preemptions=max((e.num_preemptions or 0 for e in engines), default=0),
        goodput_rps_std=statistics.stdev(goodputs) if len(goodputs) > 1 else None,
    )


class CapacitySearch:
    """Finds one configuration's capacity with a prober; `load` is the shape (arrival, amount, warm-up)."""

    def __init__(self, prober: Prober, load: LoadSpec, slo: SLO, limits: SearchLimits | None = None) -> None:
        self.prober = prober
        self.load = load
        self.slo = slo
        self.limits = limits or SearchLimits()
        self.num_runs = 0

    def _level(self, candidate: Candidate, config: EngineConfig, rate: float) -> _Level:
        load = self.load.at_rate(rate)
        repeats = self.limits.repeats if self.prober.noisy else 1
        runs: list[Measured] = []
        for _ in range(repeats):
            run = self.prober.measure(candidate, config, load, self.slo)
            self.num_runs += 1
            runs.append(run)
            if not _held(run, rate):
                break  # a level holds only if every repeat does: this one cannot any more
        return _Level(rate, tuple(runs))

    def run(
        self,
        candidate: Candidate,
        config: EngineConfig,
        start_rps: float,
        *,
        max_num_seqs: int | None = None,
        crossover_batch_size: int | None = None,
        informed: bool = True,
    ) -> CapacityResult:
        """`max_num_seqs` (resolved) and the roofline's crossover batch size feed the binding analysis;
        `informed`: `start_rps` is an estimate of this capacity (else a guess: the bracket steps by `grow`)."""
        started = time.perf_counter()
        lim = self.limits
        levels: list[_Level] = []

        def at(rate: float) -> _Level:
            level = self._level(candidate, config, rate)
            levels.append(level)
            return level

        rate = min(max(start_rps, lim.min_rps), lim.max_rps)
        first = at(rate)
        lo: _Level | None = first if first.held else None
        hi: _Level | None = None if first.held else first
        step = min(1.0 + lim.rel_tol, lim.grow) if informed else lim.grow
        while len(levels) < lim.max_levels:
            if lo is not None and hi is None:
                if lo.rate_rps * step > lim.max_rps:
                    break
                nxt = at(lo.rate_rps * step)
                step = min(step * step, lim.grow)
            elif hi is not None and lo is None:
                if hi.rate_rps / step < lim.min_rps:
                    break
                nxt = at(hi.rate_rps / step)
                step = min(step * step, lim.grow)
            else:
                assert lo is not None and hi is not None
                if hi.rate_rps / lo.rate_rps <= 1.0 + lim.rel_tol:
                    break
                nxt = at(math.sqrt(lo.rate_rps * hi.rate_rps))
            if nxt.held:
                lo = nxt
            else:
                hi = nxt
        return self._result(
            levels, lo, hi, time.perf_counter() - started, (max_num_seqs, crossover_batch_size)
        )

    def _result(
        self,
        levels: list[_Level],
        lo: _Level | None,
        hi: _Level | None,
        wall_s: float,
        limits: tuple[int | None, int | None],
    ) -> CapacityResult:
        probes = tuple(probe_result(level, self.slo) for level in sorted(levels, key=lambda lv: lv.rate_rps))
        interval = None
        if self.prober.noisy and lo is not None:
            all_failed = [lv.rate_rps for lv in levels if lv.none_held and lv.rate_rps > lo.rate_rps]
            interval = (lo.rate_rps, min(all_failed) if all_failed else hi.rate_rps if hi else lo.rate_rps)
        capacity = at_capacity(lo) if lo is not None else None
        failed_term = probe_result(hi, self.slo).failed_term if hi is not None else None
        return CapacityResult(
            max_rate_rps=lo.rate_rps if lo is not None else 0.0,
            interval_rps=interval,
            probes=probes,
            at_capacity=capacity,
            binding=None if capacity is None else find_binding(capacity, failed_term, *limits),
            num_runs=sum(len(level.runs) for level in levels),
            wall_s=wall_s,
        )
