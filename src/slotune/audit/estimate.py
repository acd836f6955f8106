"""Estimated effects of a fix, computed by slotune's planner (napkin math) and simulator (the workload sample
replayed through the vLLM V1 scheduler model), before and after the change. Nothing here is a constant: a rule
asks for the two configurations (or two workloads) and gets back the numbers both produced.

Runs are memoized by (engine flags, workload variant), so rules that share a baseline simulate it once. A
configuration the planner or simulator refuses (does not fit, a context longer than the model's) yields the
reason instead of numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slotune.errors import SlotuneError
from slotune.models import CapacityPlan, EngineConfig, GpuSpec, LoadSpec, ModelSpec, RunResult, Workload
from slotune.models.audit import Effect, EffectMetric
from slotune.plan.explain import format_value as plan_format_value

log = logging.getLogger(__name__)

# Requests of the sample the simulator replays for an estimate (the first ones, in arrival order).
SIMULATED_REQUESTS = 1000
# Without arrival times a log gives no load to replay: this many users send back to back instead.
USERS_WITHOUT_TIMESTAMPS = 16


@dataclass(frozen=True, slots=True)
class RunMetric:
    name: str
    unit: str
    read: Callable[[RunResult], float | None]


def _hit_rate(run: RunResult) -> float | None:
    engine = run.engine
    if engine is None:
        return None
    config = run.engine_config
    if config is not None and not config.enable_prefix_caching:
        return 0.0
    return engine.prefix_hit_rate


HIT_RATE = RunMetric("prefix cache hit rate", "fraction", _hit_rate)
TTFT_MEAN = RunMetric("mean TTFT", "s", lambda r: r.summary.ttft_s.mean)
TTFT_P99 = RunMetric("p99 TTFT", "s", lambda r: r.summary.ttft_s.p99)
ITL_MEAN = RunMetric("mean ITL", "s", lambda r: r.summary.itl_s.mean)
ITL_P99 = RunMetric("p99 ITL", "s", lambda r: r.summary.itl_s.p99)
OUTPUT_RATE = RunMetric("output tokens/s", "tokens/s", lambda r: r.summary.output_tokens_per_s)
PREEMPTIONS = RunMetric("preemptions", "requests", lambda r: float(r.summary.num_preemptions))


def format_value(value: float, unit: str) -> str:
    """The planner's formatting (docs/plan.md's units), plus the units only findings use; bytes stay short."""
    if unit == "fraction":
        return f"{value:.0%}"
    if unit == "bytes":
        return f"{value / 1e9:,.1f} GB"
    if unit in ("requests", "tokens/s"):
        return f"{value:,.0f} {unit}" if abs(value) >= 10 else f"{value:,.2g} {unit}"
    return plan_format_value(value, unit)


def describe_change(metric: EffectMetric) -> str:
    """`prefix cache hit rate 0% -> 61%`, `mean TTFT 120.0 ms -> 74.2 ms (-38%)`."""
    before, after = metric.before, metric.after
    if before is None or after is None:
        return f"{metric.name} n/a"
    text = f"{metric.name} {format_value(before, metric.unit)} -> {format_value(after, metric.unit)}"
    change = metric.relative_change
    if change is not None and metric.unit not in ("fraction", "GPUs"):
        text += f" ({change:+.0%})"
    return text


def effect_summary(what: str, metrics: Sequence[EffectMetric]) -> str:
    return f"{what}: estimated " + ", ".join(describe_change(m) for m in metrics)


class Estimator:
    """Planner and simulator runs for one deployment (model, GPU, workload sample), memoized."""

    def __init__(
        self,
        model: ModelSpec | None,
        gpu: GpuSpec | None,
        workload: Workload | None,
        *,
        simulated_requests: int = SIMULATED_REQUESTS,
    ) -> None:
        self.model = model
        self.gpu = gpu
        self.workload = workload
        self.simulated_requests = simulated_requests
        self._plans: dict[tuple[str, str, str | None], CapacityPlan | str] = {}
        self._runs: dict[tuple[str, str], RunResult | str] = {}

    def missing(self, *, simulate: bool) -> str | None:
        """What an estimate lacks, as the flags that give it; None when it can run."""
        lacking = [flag for flag, have in (("--model", self.model), ("--gpu", self.gpu)) if have is None]
        if simulate and self.workload is None:
            lacking.append("--requests")
        return f"give {' and '.join(lacking)} for an estimate" if lacking else None

    def plan(
        self, engine: EngineConfig, *, model: ModelSpec | None = None, quantization: str | None = None
    ) -> CapacityPlan | str:
        from slotune.plan import plan_capacity

        model = model or self.model
        if model is None or self.gpu is None:
            return self.missing(simulate=False) or "no model"
        key = (model.name, engine.model_dump_json(), quantization)
        if key not in self._plans:
            try:
                self._plans[key] = plan_capacity(
                    model, self.gpu, engine, quantization=quantization, workload=self._sim_workload(None)
                )
            except SlotuneError as exc:
                self._plans[key] = f"the planner refused it: {exc}"
        return self._plans[key]

    def _sim_workload(self, workload: Workload | None) -> Workload | None:
        chosen = workload or self.workload
        if chosen is None or len(chosen.requests) <= self.simulated_requests:
            return chosen
        return chosen.model_copy(update={"requests": chosen.requests[: self.simulated_requests]})

    def load(self) -> LoadSpec:
        workload = self._sim_workload(None)
        if workload is not None and workload.duration_s > 0:
            return LoadSpec()
        return LoadSpec(kind="concurrency", concurrency=USERS_WITHOUT_TIMESTAMPS)

    def basis(self) -> str:
        workload = self._sim_workload(None)
        parts = []
        if self.model is not None and self.gpu is not None:
            parts.append(f"{self.model.name} on {self.gpu.name}")
        if workload is not None:
            load = self.load()
            how = (
                "replayed at their logged times"
                if load.kind == "replay"
                else f"sent by {load.concurrency} users back to back (the log has no timestamps)"
            )
            parts.append(f"the first {len(workload.requests):,} logged requests {how}")
        return "; ".join(parts)

    def simulate(
        self, engine: EngineConfig, *, workload: Workload | None = None, variant: str = ""
    ) -> RunResult | str:
        from slotune.simulate import Simulator

        chosen = self._sim_workload(workload)
        if self.model is None or self.gpu is None or chosen is None:
            return self.missing(simulate=True) or "no workload"
        key = (engine.model_dump_json(), variant)
        if key not in self._runs:
            try:
                self._runs[key] = Simulator(self.model, self.gpu).run(chosen, engine, load=self.load())
            except SlotuneError as exc:
                self._runs[key] = f"the simulator refused it: {exc}"
        return self._runs[key]

    def compare_runs(
        self,
        what: str,
        before: EngineConfig,
        after: EngineConfig,
        metrics: Sequence[RunMetric],
        *,
        before_workload: tuple[Workload, str] | None = None,
        after_workload: tuple[Workload, str] | None = None,
    ) -> Effect | str:
        """The simulator's numbers for `before` and `after` (each on its own workload variant when given)."""
        first = self.simulate(before, workload=_w(before_workload), variant=_v(before_workload))
        second = self.simulate(after, workload=_w(after_workload), variant=_v(after_workload))
        if isinstance(first, str):
            return first
        if isinstance(second, str):
            return second
        values = tuple(
            EffectMetric(name=m.name, unit=m.unit, before=m.read(first), after=m.read(second))
            for m in metrics
        )
        return Effect(
            source="simulator", summary=effect_summary(what, values), metrics=values, basis=self.basis()
        )


def _w(pair: tuple[Workload, str] | None) -> Workload | None:
    return None if pair is None else pair[0]


def _v(pair: tuple[Workload, str] | None) -> str:
    return "" if pair is None else pair[1]


def plan_effect(
    what: str, before: CapacityPlan, after: CapacityPlan, names: Sequence[str], basis: str
) -> Effect:
    """Planner figures before and after: names from PLAN_METRICS."""
    values = tuple(
        EffectMetric(
            name=name,
            unit=PLAN_METRICS[name][0],
            before=PLAN_METRICS[name][1](before),
            after=PLAN_METRICS[name][1](after),
        )
        for name in names
    )
    return Effect(source="planner", summary=effect_summary(what, values), metrics=values, basis=basis)


def _cost(plan: CapacityPlan) -> float | None:
    return plan.cost.usd_per_mtok


PLAN_METRICS: dict[str, tuple[str, Callable[[CapacityPlan], float | None]]] = {
    "weights per GPU": ("bytes", lambda p: float(p.memory.weights_bytes)),
    "KV cache": ("tokens", lambda p: float(p.kv.capacity_tokens)),
    "max concurrency at max_model_len": ("requests", lambda p: p.kv.max_concurrency),
    "GPUs needed": ("GPUs", lambda p: float(p.verdict.min_tp) if p.verdict.min_tp else None),
    "output tokens/s per replica": ("tokens/s", lambda p: p.throughput.output_tokens_per_s),
    "decode step at batch 1": ("s", lambda p: p.latency.itl_by_batch_s.get(1)),
    "prefill p50": ("s", lambda p: p.latency.ttft_p50_s),
    "cost": ("USD/Mtok", _cost),
    "memory headroom per GPU": ("bytes", lambda p: float(p.memory.gpu_memory_bytes - p.memory.budget_bytes)),
}
