"""The three baselines, measured in the same study on the same backend as the search:

- `defaults`: vLLM's own defaults (no engine flag given beyond the command line's);
- `seed`: the seed's recommended settings (slotune.tune.space.SEED_SETTINGS, max_model_len from the workload);
- `grid`: what vLLM's `benchmarks/auto_tune/auto_tune.sh` does: a grid of max_num_seqs x
  max_num_batched_tokens (its own default lists), each point's highest rate under a P99 E2E limit as its only
  constraint, the point with the most output throughput picked; the pick is then judged against the real
  SLO. auto_tune.sh serves with --enable-prefix-caching, the given max_model_len and
  --gpu-memory-utilization 0.98 (lowered when the server does not start).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from slotune.models import SLO, SLOTarget, Workload
from slotune.models.tune import GridBaseline, ParamValue, TunePoint
from slotune.tune.evaluate import Evaluator
from slotune.tune.search import OnPoint, Runs
from slotune.tune.space import SearchSpace

GRID_MAX_NUM_SEQS = (128, 256)
GRID_MAX_NUM_BATCHED_TOKENS = (512, 1024, 2048, 4096)
GRID_GPU_MEMORY_UTILIZATION = (0.98, 0.95, 0.9)


def candidate_params(space: SearchSpace) -> dict[str, ParamValue]:
    """The first choice of every candidate dimension (the user's first --gpu, --num-gpus, ...)."""
    out: dict[str, ParamValue] = {
        k: space.fixed[k] for k in ("gpu", "quantization", "layout", "speculative") if k in space.fixed
    }
    for dim in space.dimensions:
        if dim.tier == 0:
            out[dim.name] = dim.choices[0]
    return out


def defaults_params(space: SearchSpace) -> dict[str, ParamValue]:
    return candidate_params(space)


def seed_params(space: SearchSpace, seed: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    return {**candidate_params(space), **seed}


def grid_e2e_limit_s(slo: SLO, workload: Workload) -> float:
    """auto_tune.sh's one constraint, P99 E2E, from the SLO: its E2E threshold where it has one, else the
    longest a p99 request may take within the SLO's per-token terms: TTFT + (p99 output tokens - 1) x ITL (or
    TPOT)."""
    by_metric = {t.metric: t.threshold for t in slo.targets if t.is_latency}
    if "e2e" in by_metric:
        return by_metric["e2e"]
    outputs = sorted(r.output_tokens for r in workload.requests)
    p99_output = outputs[min(len(outputs) - 1, int(0.99 * len(outputs)))] if outputs else 1
    per_token = by_metric.get("itl", by_metric.get("tpot", 0.0))
    return by_metric.get("ttft", 0.0) + max(0, p99_output - 1) * per_token or 60.0


def grid_slo(limit_s: float) -> SLO:
    return SLO(name="auto_tune e2e", targets=(SLOTarget(metric="e2e", stat="p99", threshold=limit_s),))


def run_grid(
    runs: Runs,
    evaluator: Evaluator,
    space: SearchSpace,
    seed: Mapping[str, ParamValue],
    limit_s: float,
    *,
    max_num_seqs: Sequence[int] = GRID_MAX_NUM_SEQS,
    max_num_batched_tokens: Sequence[int] = GRID_MAX_NUM_BATCHED_TOKENS,
    on_point: OnPoint | None = None,
) -> GridBaseline:
    slo = grid_slo(limit_s)
    base = {**candidate_params(space), "max_model_len": seed["max_model_len"], "enable_prefix_caching": True}
    points: list[TunePoint] = []
    for seqs, tokens in itertools.product(max_num_seqs, max_num_batched_tokens):
        point: TunePoint | None = None
        for utilization in GRID_GPU_MEMORY_UTILIZATION:  # lowered until it starts, as auto_tune.sh does
            params = {
                **base,
                "max_num_seqs": seqs,
                "max_num_batched_tokens": tokens,
                "gpu_memory_utilization": utilization,
            }
            point = runs.evaluate(evaluator, params, "grid", slo=slo, on_point=on_point)
            if point.pruned is None:
                break
        assert point is not None
        points.append(point)
    ran = [p for p in points if p.capacity is not None and p.capacity.at_capacity is not None]
    pick = None
    if ran:
        best = max(ran, key=lambda p: p.capacity.at_capacity.output_tokens_per_s)  # type: ignore[union-attr]
        pick = runs.evaluate(evaluator, best.params, "grid-pick", on_point=on_point)
    return GridBaseline(
        max_num_seqs=tuple(max_num_seqs),
        max_num_batched_tokens=tuple(max_num_batched_tokens),
        e2e_p99_limit_s=limit_s,
        num_trials=len(points),
        points=tuple(points),
        pick=pick,
    )


def run_baselines(
    runs: Runs,
    evaluator: Evaluator,
    space: SearchSpace,
    seed: Mapping[str, ParamValue],
    on_point: OnPoint | None = None,
) -> dict[str, TunePoint]:
    by_role: dict[str, TunePoint] = {
        "defaults": runs.evaluate(evaluator, defaults_params(space), "defaults", on_point=on_point),
        "seed": runs.evaluate(evaluator, seed_params(space, seed), "seed", on_point=on_point),
    }
    return by_role
