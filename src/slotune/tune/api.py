"""`slotune tune` as a library call: simulator first, real engine to confirm, everything in one study.

1. The space (tiers and candidates) is built from the workload and the model; infeasible points are pruned by
   the planner and vLLM's start-up rules before any run.
2. The leader (not a `--worker`) measures the baselines once per study on the simulator: vLLM's defaults, the
   seed's settings and the auto_tune.sh-style grid.
3. Every worker runs the Optuna search until the study holds `budget` finished configurations.
4. With a real engine, the best `confirm` configurations and the baselines are measured on it with repeats.
5. The report: points, Pareto frontier, baselines, confirmations and the recommendation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from slotune.catalog import get_model
from slotune.errors import InputError
from slotune.models import SLO, EngineConfig, LoadSpec, PriceBook, Workload
from slotune.models.tune import (
    Confirmation,
    GridBaseline,
    ParamValue,
    TuneInputs,
    TunePoint,
    TuneReport,
)
from slotune.results import stamped
from slotune.tune.baselines import candidate_params, grid_e2e_limit_s, run_baselines, run_grid
from slotune.tune.capacity import SearchLimits
from slotune.tune.claims import Claims
from slotune.tune.confirm import confirm, validated_error
from slotune.tune.evaluate import Evaluator
from slotune.tune.objectives import ObjectiveKind, pareto_front, rank_key
from slotune.tune.probe import Prober, SimProber
from slotune.tune.recommend import recommend
from slotune.tune.search import OnPoint, Runs, Search
from slotune.tune.space import (
    ENGINE_FIELDS,
    SearchSpace,
    build_space,
    layouts,
    point_key,
    seed_settings,
)
from slotune.tune.study import completed_points, open_storage, open_study, shown_url, study_name_for
from slotune.workload.digest import workload_digest

DEFAULT_SIM_REQUESTS = 600


@dataclass
class TuneOptions:
    model: str
    gpus: Sequence[str]
    workload: Workload
    slo: SLO
    load: LoadSpec  # an open loop's shape and amount; its rate is what the capacity search sets
    storage: str
    engine: Literal["sim", "vllm"] = "sim"
    budget: int = 100
    base: EngineConfig = field(default_factory=EngineConfig)
    quantizations: Sequence[str | None] = (None,)
    num_gpus: Sequence[int] = (1,)
    speculative: Sequence[str | None] = (None,)
    tiers: Sequence[int] = (1, 2, 3)
    space_overrides: dict[str, tuple[ParamValue, ...]] = field(default_factory=dict)
    objective: ObjectiveKind = "cost"
    target_rate_rps: float | None = None
    seed: int = 0
    profile: str | None = None
    prices: PriceBook | None = None
    study_name: str | None = None
    worker: bool = False
    grid: bool = True
    rel_tol: float = 0.05
    # Real engine: its prober, the repeats per level, how many of the simulator's best to confirm, its load.
    real_prober: Prober | None = None
    repeats: int = 2
    confirm: int = 3
    real_load: LoadSpec | None = None
    served_model: str | None = None
    on_point: OnPoint | None = None
    on_phase: Callable[[str], None] | None = None


def _space(opts: TuneOptions) -> SearchSpace:
    from slotune.plan.tensor_parallel import valid_tp_sizes

    model = get_model(opts.model)
    tp_sizes = valid_tp_sizes(model)
    if opts.base.tensor_parallel_size != 1:
        tp_sizes = [opts.base.tensor_parallel_size]
    return build_space(
        workload=opts.workload,
        model=model,
        gpus=opts.gpus,
        quantizations=opts.quantizations,
        layout_choices=layouts(opts.num_gpus, tp_sizes),
        speculative=opts.speculative,
        tiers=opts.tiers,
        overrides={**pinned_flags(opts.base), **opts.space_overrides},
    )


def pinned_flags(base: EngineConfig) -> dict[str, tuple[ParamValue, ...]]:
    """The searchable engine flags given on the command line, each as its one choice: a flag the user gives is
    kept in every configuration (neither searched nor replaced by the seed's setting); `--space` searches it."""
    given = base.model_dump(include=base.model_fields_set)
    return {name: (given[name],) for name in ENGINE_FIELDS if name in given}


def _inputs(opts: TuneOptions, space: SearchSpace, profile_label: str) -> TuneInputs:
    inputs = TuneInputs(
        model=opts.model,
        gpus=tuple(opts.gpus),
        workload_name=opts.workload.name,
        workload_digest=workload_digest(opts.workload),
        slo=opts.slo,
        load=opts.load,
        engine=opts.engine,
        budget=opts.budget,
        seed=opts.seed,
        profile=profile_label,
        target_rate_rps=opts.target_rate_rps,
        tiers=tuple(opts.tiers),
        space={**space.choices(), **{k: (v,) for k, v in space.fixed.items()}},
        objective=opts.objective,
        storage=shown_url(opts.storage),
    )
    return inputs.model_copy(update={"study_name": opts.study_name or study_name_for(inputs)})


def _evaluator(opts: TuneOptions, prober: Prober, load: LoadSpec, repeats: int) -> Evaluator:
    return Evaluator(
        model=opts.model,
        base=opts.base,
        slo=opts.slo,
        load=load,
        prober=prober,
        limits=SearchLimits(rel_tol=opts.rel_tol, repeats=repeats),
        prices=opts.prices,
        target_rate_rps=opts.target_rate_rps,
    )


@dataclass
class _Baselines:
    by_role: dict[str, TunePoint]
    grid: GridBaseline | None


def _measure_baselines(
    opts: TuneOptions, runs: Runs, evaluator: Evaluator, space: SearchSpace, seed: dict[str, ParamValue]
) -> _Baselines:
    by_role = run_baselines(runs, evaluator, space, seed, opts.on_point)
    grid = None
    if opts.grid:
        limit = grid_e2e_limit_s(opts.slo, opts.workload)
        grid = run_grid(runs, evaluator, space, seed, limit, on_point=opts.on_point)
    return _Baselines(by_role, grid)


def _walk_start(
    evaluator: Evaluator, space: SearchSpace, seed: dict[str, ParamValue]
) -> dict[str, ParamValue]:
    """The seed's settings with vLLM's resolved defaults (for the first candidate) for the other flags."""
    from slotune.catalog import get_gpu
    from slotune.vllm_rules import resolve_engine_config

    candidate, config = evaluator.point({**space.fixed, **candidate_params(space), **seed})
    try:
        resolved = resolve_engine_config(get_model(candidate.model), get_gpu(candidate.gpu), config)
    except InputError:
        return dict(seed)
    return {**resolved.model_dump(), **seed}


def _phase(opts: TuneOptions, text: str) -> None:
    if opts.on_phase is not None:
        opts.on_phase(text)


def _best(points: Sequence[TunePoint], kind: ObjectiveKind, count: int) -> list[TunePoint]:
    seen: set[str] = set()
    out: list[TunePoint] = []
    for point in sorted((p for p in points if p.objectives is not None), key=lambda p: rank_key(p, kind)):
        key = point_key(point.candidate, point.engine_config)
        if key not in seen:
            seen.add(key)
            out.append(point)
    return out[:count]


def _confirm_on_engine(
    opts: TuneOptions, runs: Runs, search_points: list[TunePoint], sim_base: _Baselines, allowed: float
) -> tuple[list[Confirmation], _Baselines]:
    assert opts.real_prober is not None
    real = _evaluator(opts, opts.real_prober, opts.real_load or opts.load, opts.repeats)
    _phase(opts, f"confirming the {opts.confirm} best configurations on the real engine")
    confirmations = confirm(
        runs, real, _best(search_points, opts.objective, opts.confirm), allowed, opts.on_point
    )
    _phase(opts, "measuring the baselines on the real engine")
    baseline_points = [
        *sim_base.by_role.values(),
        *([sim_base.grid.pick] if sim_base.grid and sim_base.grid.pick else []),
    ]
    measured = confirm(runs, real, baseline_points, allowed, opts.on_point)
    by_role: dict[str, TunePoint] = {
        str(c.point.role): c.point for c in measured if c.point.role in ("defaults", "seed")
    }
    grid = sim_base.grid
    if grid is not None:
        picks = [c.point for c in measured if c.point.role == "grid-pick"]
        grid = grid.model_copy(update={"pick": picks[0] if picks else None})
    return confirmations + measured, _Baselines(by_role, grid)


def tune(opts: TuneOptions) -> TuneReport:
    """Run (or resume, or join as a worker) the study and report it."""
    started = time.perf_counter()
    model = get_model(opts.model)
    space = _space(opts)
    # The user's flags replace the seed's settings too (in the seed's baseline and the tier walk's start).
    seed = {**seed_settings(opts.workload, model), **{k: v[0] for k, v in pinned_flags(opts.base).items()}}
    sim = SimProber(opts.workload, profile=opts.profile, seed=opts.seed)
    inputs = _inputs(opts, space, sim.profile.label)
    storage = open_storage(opts.storage)
    study = open_study(storage, inputs.study_name, seed=opts.seed, create=not opts.worker, inputs=inputs)
    runs = Runs.open(storage, inputs.study_name)
    evaluator = _evaluator(opts, sim, opts.load, 1)
    for _, point in completed_points(study):  # a resumed study or a joining worker: priors of what ran before
        if point.capacity is not None and point.reused_from is None:
            evaluator.remember(point.params, None, point.capacity.max_rate_rps)
    search = Search(study, evaluator, space, opts.objective, Claims.open(storage, study))
    base = _Baselines({}, None)
    if not opts.worker:
        if not study.trials:  # queued first: workers that join while the baselines run take the walk too
            search.enqueue_tier_walk(_walk_start(evaluator, space, seed))
        _phase(
            opts, "measuring the baselines on the simulator (vLLM defaults, the seed's settings, the grid)"
        )
        base = _measure_baselines(opts, runs, evaluator, space, seed)
    _phase(opts, f"searching {space.size():,} configurations on the simulator (budget {opts.budget})")
    search.run(opts.budget, opts.on_point)
    points = [point for _, point in completed_points(study)]
    ran = [p for p in points if p.pruned is None]
    confirmations: list[Confirmation] = []
    allowed = validated_error(sim.profile)
    if opts.real_prober is not None and not opts.worker:
        confirmations, base = _confirm_on_engine(opts, runs, ran, base, allowed)
    return _report(opts, inputs, points, base, confirmations, sim, evaluator, started)


def _report(
    opts: TuneOptions,
    inputs: TuneInputs,
    points: list[TunePoint],
    base: _Baselines,
    confirmations: list[Confirmation],
    sim: SimProber,
    evaluator: Evaluator,
    started: float,
) -> TuneReport:
    ran = [p for p in points if p.pruned is None]
    frontier = pareto_front(ran, opts.objective)
    measured = {point_key(c.point.candidate, c.point.engine_config): c.point for c in confirmations}
    notes = [c.note for c in confirmations if c.disagrees]
    candidates = (
        ran + list(base.by_role.values()) + ([base.grid.pick] if base.grid and base.grid.pick else [])
    )
    recommendation = recommend(candidates, opts.objective, measured=measured, served_model=opts.served_model)
    real_runs = opts.real_prober.num_runs if opts.real_prober is not None else 0  # type: ignore[attr-defined]
    return stamped(
        TuneReport(
            inputs=inputs,
            points=tuple(points),
            frontier=tuple(ran[i].trial for i in frontier if ran[i].trial is not None),
            baselines=base.by_role,
            grid=base.grid,
            confirmations=tuple(confirmations),
            recommendation=recommendation,
            num_configurations=len({point_key(p.candidate, p.engine_config) for p in ran}),
            num_pruned=sum(1 for p in points if p.pruned is not None),
            num_sim_runs=sim.num_runs,
            num_real_runs=real_runs,
            wall_s=time.perf_counter() - started,
            notes=tuple(notes),
        )
    )
