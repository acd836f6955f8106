"""The search on a study: Optuna's multi-objective TPE over the search space, one capacity search per
configuration, every point recorded in the storage. The first trials walk the seed's tiers in order (each
tier-1, then tier-2, then tier-3 flag varied alone from the seed's settings) before the sampler takes over.

The budget counts distinct configurations measured by all workers together. A configuration pruned before any
run costs nothing; one sampled again reuses the first result; before measuring, a trial claims its
configuration (slotune.tune.claims), so no two trials measure the same one and the budget is never overrun.

Points measured once per study (baselines, grid points, confirmations on a real engine) live in a second
study of the same storage, `<name>:runs`, keyed by what was measured, so a resumed tune reuses them too.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slotune.models import SLO
from slotune.models.tune import ParamValue, PointRole, TunePoint
from slotune.tune.claims import Claims, Verdict
from slotune.tune.evaluate import Evaluator
from slotune.tune.objectives import ObjectiveKind, objective_values
from slotune.tune.space import SearchSpace, point_key
from slotune.tune.study import (
    KEY_ATTR,
    POINT_ATTR,
    WORKER_ATTR,
    WORKER_ID,
    fail_dead_local_trials,
    record,
)

log = logging.getLogger(__name__)

# Trials a process may spend per configuration of the budget left (pruned points, configurations sampled again).
MAX_TRIALS_PER_BUDGET = 4
# Seconds between looks at the study while other trials hold a configuration or the rest of the budget.
POLL_S = 0.5
RUNS_SUFFIX = ":runs"

OnPoint = Callable[[TunePoint], None]


def point_values(point: TunePoint, kind: ObjectiveKind) -> tuple[float, float]:
    if point.objectives is None:
        return math.inf, math.inf
    return objective_values(point.objectives, kind)


def nearest_choice(choices: tuple[ParamValue, ...], value: ParamValue) -> ParamValue:
    if value in choices:
        return value
    numbers = [c for c in choices if isinstance(c, int | float) and not isinstance(c, bool)]
    if isinstance(value, int | float) and not isinstance(value, bool) and numbers:
        return min(numbers, key=lambda c: (abs(float(c) - float(value)), float(c)))
    return choices[0]


def tier_walk(space: SearchSpace, start: Mapping[str, ParamValue]) -> list[dict[str, ParamValue]]:
    """From `start` (the seed's settings, vLLM's resolved defaults for the rest, each at its nearest choice),
    each flag varied alone, in tier order; candidates keep their first choice. The study's first trials."""
    origin = {d.name: nearest_choice(d.choices, start.get(d.name, d.choices[0])) for d in space.dimensions}
    walk = [origin]
    for dim in space.dimensions:
        if dim.tier == 0:
            continue
        for value in dim.choices:
            if value != origin[dim.name]:
                walk.append({**origin, dim.name: value})
    return walk


def _completed_by_key(study: Any, key: str) -> Any | None:
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if trial.user_attrs.get(KEY_ATTR) == key and POINT_ATTR in trial.user_attrs:
            return trial
    return None


@dataclass
class Search:
    study: Any
    evaluator: Evaluator
    space: SearchSpace
    kind: ObjectiveKind
    claims: Claims

    def enqueue_tier_walk(self, start: Mapping[str, ParamValue]) -> None:
        for params in tier_walk(self.space, start):
            self.study.enqueue_trial(params, skip_if_exists=True)

    def _wait(self) -> None:
        """Give the trials that hold a configuration or the budget time to finish; fail those whose worker died
        (this host's at once, others' by their heartbeat) so that what they held is free again."""
        import optuna

        time.sleep(POLL_S)
        fail_dead_local_trials(self.study)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)

    def _claim(self, trial: Any, key: str, budget: int) -> Verdict:
        """Claim the configuration; while another trial measures it, or running trials hold the rest of the
        budget, wait and claim again (the holder may die)."""
        while True:
            verdict = self.claims.claim(trial, key, budget)
            if verdict.outcome not in ("taken", "full"):
                return verdict
            self._wait()

    def _reused(self, number: int, trial: int) -> TunePoint:
        """The point trial `trial` measured, as trial `number`'s (the same configuration sampled again)."""
        for before in self.study.get_trials(deepcopy=False):
            if before.number == trial:
                return TunePoint.model_validate(before.user_attrs[POINT_ATTR]).model_copy(
                    update={"trial": number, "reused_from": trial}
                )
        raise RuntimeError(f"trial {trial} is not in the study")

    def _objective(self, on_point: OnPoint | None, budget: int) -> Callable[[Any], tuple[float, float]]:
        import optuna

        def objective(trial: Any) -> tuple[float, float]:
            trial.set_user_attr(WORKER_ATTR, WORKER_ID)  # first: a trial without it is taken for a dead one's
            params = {
                **self.space.fixed,
                **{d.name: trial.suggest_categorical(d.name, d.choices) for d in self.space.dimensions},
            }
            key = point_key(*self.evaluator.point(params))
            trial.set_user_attr(KEY_ATTR, key)
            point = self.evaluator.infeasible(params, trial=trial.number)
            if point is None:
                verdict = self._claim(trial, key, budget)
                if verdict.outcome == "reuse":  # finished before: never measured again, not counted again
                    assert verdict.trial is not None
                    point = self._reused(trial.number, verdict.trial)
                elif verdict.outcome == "won":
                    point = self.evaluator.evaluate(params, trial=trial.number)
                else:
                    raise optuna.TrialPruned(verdict.reason)
            record(trial, point, key)
            if on_point is not None:
                on_point(point)
            if point.pruned is not None:
                raise optuna.TrialPruned(point.pruned)
            return point_values(point, self.kind)

        return objective

    def run(self, budget: int, on_point: OnPoint | None = None) -> None:
        """Run trials until the study holds `budget` distinct configurations measured (all workers together).
        While the rest of the budget is running in other workers, wait: one of them may die."""
        fail_dead_local_trials(self.study)
        max_trials = max(budget - len(self.claims.tally().measured), 0) * MAX_TRIALS_PER_BUDGET
        objective = self._objective(on_point, budget)
        num_trials = 0
        while True:
            tally = self.claims.tally()
            if len(tally.measured) >= budget:
                # A trial of a process killed as it began may have outlived its ownerless grace by now.
                fail_dead_local_trials(self.study)
                return
            if tally.num_held >= budget:
                self._wait()
                continue
            if num_trials >= max_trials:
                log.warning(
                    "stopped after %d trials with %d of %d configurations measured: the sampler keeps "
                    "proposing configurations measured before or pruned",
                    num_trials,
                    len(tally.measured),
                    budget,
                )
                return
            self.study.optimize(objective, n_trials=1, gc_after_trial=False)
            num_trials += 1


@dataclass
class Runs:
    """Points measured once per study (baselines, grid points, confirmations), kept in `<name>:runs`."""

    study: Any

    @classmethod
    def open(cls, storage: Any, name: str) -> Runs:
        import optuna

        study = optuna.create_study(
            study_name=name + RUNS_SUFFIX, storage=storage, direction="minimize", load_if_exists=True
        )
        return cls(study)

    def once(self, key: str, measure: Callable[[], TunePoint], on_point: OnPoint | None = None) -> TunePoint:
        """The point recorded under `key`, measured now if it never finished."""
        before = _completed_by_key(self.study, key)
        if before is not None:
            return TunePoint.model_validate(before.user_attrs[POINT_ATTR])
        found: list[TunePoint] = []

        def objective(trial: Any) -> float:
            point = measure()
            record(trial, point, key)
            found.append(point)
            if on_point is not None:
                on_point(point)
            return point.capacity.max_rate_rps if point.capacity is not None else 0.0

        self.study.optimize(objective, n_trials=1, gc_after_trial=False)
        return found[0]

    def evaluate(
        self,
        evaluator: Evaluator,
        params: Mapping[str, ParamValue],
        role: PointRole,
        *,
        slo: SLO | None = None,
        on_point: OnPoint | None = None,
        start_rps: float | None = None,
    ) -> TunePoint:
        key = f"{evaluator.prober.backend}|{role}|{slo.model_dump_json() if slo else ''}|" + point_key(
            *evaluator.point(params)
        )
        return self.once(
            key, lambda: evaluator.evaluate(params, role=role, slo=slo, start_rps=start_rps), on_point
        )
