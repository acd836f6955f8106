"""One configuration from parameters to a TunePoint: prune, find its SLO capacity, compute its objectives."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from slotune.catalog import get_gpu
from slotune.models import SLO, EngineConfig, LoadSpec, PriceBook, PriceUsed
from slotune.models.tune import Candidate, ParamValue, PointRole, TunePoint
from slotune.tune.capacity import CapacitySearch, SearchLimits
from slotune.tune.feasibility import Feasibility, check_feasible
from slotune.tune.objectives import objectives_of
from slotune.tune.probe import Prober
from slotune.tune.space import point_key, to_point

DEFAULT_START_RPS = 1.0


@dataclass
class Evaluator:
    """Evaluates configurations of one model on one prober (simulator or real engine), under one SLO and load
    shape. `base` holds the engine flags given on the command line (kept unless a searched flag replaces
    them). The capacity search of each configuration starts from the capacity of the most similar configuration
    measured under the same SLO (the most flags equal; the median of ties): the sampler proposes neighbours of
    good points, whose capacities are close, so the search's small first steps bracket them in a few levels."""

    model: str
    base: EngineConfig
    slo: SLO
    load: LoadSpec
    prober: Prober
    limits: SearchLimits = field(default_factory=SearchLimits)
    prices: PriceBook | None = None
    target_rate_rps: float | None = None
    # (flags, SLO key, capacity) of every configuration measured: the priors of the next capacity searches.
    found: list[tuple[dict[str, ParamValue], str, float]] = field(default_factory=list)
    num_runs: int = 0
    # The planner's verdict per configuration: a configuration sampled again is not planned again.
    feasibility: dict[str, Feasibility] = field(default_factory=dict)

    def prior_rps(self, params: Mapping[str, ParamValue], slo: SLO | None = None) -> float | None:
        """The capacity of the most similar configuration measured under `slo` (default: the study's), or
        None when none has been measured."""
        slo_key = self._slo_key(slo)
        same = [(p, c) for p, key, c in self.found if key == slo_key and c > 0]
        if not same:
            return None
        distance = [sum(p.get(k) != v for k, v in params.items()) for p, _ in same]
        nearest = min(distance)
        return statistics.median(c for (_, c), d in zip(same, distance, strict=True) if d == nearest)

    def remember(self, params: Mapping[str, ParamValue], slo: SLO | None, capacity_rps: float) -> None:
        self.found.append((dict(params), self._slo_key(slo), capacity_rps))

    def _slo_key(self, slo: SLO | None) -> str:
        return (slo or self.slo).model_dump_json()

    def price(self, gpu: str) -> PriceUsed | None:
        from slotune.catalog.prices import price_for

        return price_for(get_gpu(gpu), self.prices)

    def point(self, params: Mapping[str, ParamValue]) -> tuple[Candidate, EngineConfig]:
        return to_point(params, model=self.model, base=self.base)

    def feasible(self, candidate: Candidate, config: EngineConfig) -> Feasibility:
        key = point_key(candidate, config)
        if key not in self.feasibility:
            self.feasibility[key] = check_feasible(candidate, config)
        return self.feasibility[key]

    def _unrun(self, params: Mapping[str, ParamValue], role: PointRole, trial: int | None) -> TunePoint:
        candidate, config = self.point(params)
        return TunePoint(
            trial=trial,
            role=role,
            backend=self.prober.backend,
            candidate=candidate,
            params=dict(params),
            engine_config=config,
        )

    def infeasible(
        self, params: Mapping[str, ParamValue], *, role: PointRole = "search", trial: int | None = None
    ) -> TunePoint | None:
        """The configuration as a point pruned before any run (with the reason), or None where it may run."""
        reason = self.feasible(*self.point(params)).reason
        if reason is None:
            return None
        return self._unrun(params, role, trial).model_copy(update={"pruned": reason})

    def evaluate(
        self,
        params: Mapping[str, ParamValue],
        *,
        role: PointRole = "search",
        trial: int | None = None,
        slo: SLO | None = None,
        start_rps: float | None = None,
    ) -> TunePoint:
        """`slo` replaces the study's SLO for this point (the grid baseline's E2E-only limit); `start_rps` is
        where its capacity search starts, an estimate (default: the most similar configuration's capacity)."""
        candidate, config = self.point(params)
        base = self._unrun(params, role, trial)
        feasible = self.feasible(candidate, config)
        if feasible.reason is not None or feasible.resolved is None:
            return base.model_copy(update={"pruned": feasible.reason})
        search = CapacitySearch(self.prober, self.load, slo or self.slo, self.limits)
        # The simulator takes the resolved flags; a real engine gets the flags as given and decides the rest.
        run_config = feasible.resolved if self.prober.backend == "simulator" else config
        start = start_rps or self.prior_rps(params, slo)
        capacity = search.run(
            candidate,
            run_config,
            start or DEFAULT_START_RPS,
            max_num_seqs=feasible.resolved.max_num_seqs,
            crossover_batch_size=feasible.crossover_batch_size,
            informed=start is not None,
        )
        self.num_runs += capacity.num_runs
        self.remember(params, slo, capacity.max_rate_rps)
        objectives = objectives_of(candidate, capacity, self.price(candidate.gpu), self.target_rate_rps)
        return base.model_copy(update={"capacity": capacity, "objectives": objectives})
