"""One configuration from parameters to a TunePoint: prune, find its SLO capacity, compute its objectives."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from slotune.catalog import get_gpu
from slotune.models import SLO, EngineConfig, LoadSpec, PriceBook, PriceUsed
from slotune.models.tune import Candidate, ParamValue, PointRole, TunePoint
from slotune.tune.capacity import CapacitySearch, SearchLimits
from slotune.tune.feasibility import check_feasible
from slotune.tune.objectives import objectives_of
from slotune.tune.probe import Prober
from slotune.tune.space import to_point

DEFAULT_START_RPS = 1.0


@dataclass
class Evaluator:
    """Evaluates configurations of one model on one prober (simulator or real engine), under one SLO and load
    shape. `base` holds the engine flags given on the command line (kept unless a searched flag replaces
    them). The capacity search of each configuration starts at the median capacity found so far."""

    model: str
    base: EngineConfig
    slo: SLO
    load: LoadSpec
    prober: Prober
    limits: SearchLimits = field(default_factory=SearchLimits)
    prices: PriceBook | None = None
    target_rate_rps: float | None = None
    capacities: list[float] = field(default_factory=list)
    num_runs: int = 0

    def start_rps(self) -> float:
        found = [c for c in self.capacities if c > 0]
        return statistics.median(found) if found else DEFAULT_START_RPS

    def price(self, gpu: str) -> PriceUsed | None:
        from slotune.catalog.prices import price_for

        return price_for(get_gpu(gpu), self.prices)

    def point(self, params: Mapping[str, ParamValue]) -> tuple[Candidate, EngineConfig]:
        return to_point(params, model=self.model, base=self.base)

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
        where its capacity search starts (default: the median capacity found so far)."""
        candidate, config = self.point(params)
        base = TunePoint(
            trial=trial,
            role=role,
            backend=self.prober.backend,
            candidate=candidate,
            params=dict(params),
            engine_config=config,
        )
        feasible = check_feasible(candidate, config)
        if feasible.reason is not None or feasible.resolved is None:
            return base.model_copy(update={"pruned": feasible.reason})
        search = CapacitySearch(self.prober, self.load, slo or self.slo, self.limits)
        # The simulator takes the resolved flags; a real engine gets the flags as given and decides the rest.
        run_config = feasible.resolved if self.prober.backend == "simulator" else config
        capacity = search.run(
            candidate,
            run_config,
            start_rps or self.start_rps(),
            max_num_seqs=feasible.resolved.max_num_seqs,
            crossover_batch_size=feasible.crossover_batch_size,
        )
        self.num_runs += capacity.num_runs
        if slo is None:
            self.capacities.append(capacity.max_rate_rps)
        objectives = objectives_of(candidate, capacity, self.price(candidate.gpu), self.target_rate_rps)
        return base.model_copy(update={"capacity": capacity, "objectives": objectives})
