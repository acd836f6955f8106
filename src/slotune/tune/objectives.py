"""The study's two objectives, from a configuration's SLO capacity: what it costs (or serves per GPU-hour) at
the SLO, and what one user waits per output token. Both are minimized; the Pareto frontier is the set of
configurations no other beats on both.

Replicas share the traffic evenly, so a deployment of R replicas serves R x the per-replica capacity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from slotune.cost import usd_per_mtok
from slotune.models import PriceUsed
from slotune.models.tune import Candidate, CapacityResult, Objectives, TunePoint
from slotune.units import HOUR_S

ObjectiveKind = Literal["cost", "goodput-per-gpu"]


def objectives_of(
    candidate: Candidate, capacity: CapacityResult, price: PriceUsed | None, target_rate_rps: float | None
) -> Objectives | None:
    """None when the SLO held at no rate (nothing to deploy)."""
    at = capacity.at_capacity
    if at is None or capacity.max_rate_rps <= 0 or at.goodput_rps <= 0:
        return None
    replicas = candidate.replicas
    gpus = candidate.num_gpus
    tokens_per_s = at.goodput_output_tokens_per_s * replicas
    replicas_for_rate = (
        None if target_rate_rps is None else max(1, math.ceil(target_rate_rps / capacity.max_rate_rps - 1e-9))
    )
    return Objectives(
        goodput_rps=at.goodput_rps * replicas,
        goodput_per_gpu_hour=at.goodput_rps * replicas * HOUR_S / gpus,
        goodput_output_tokens_per_s=tokens_per_s,
        usd_per_mtok=None if price is None else usd_per_mtok(price.usd_per_gpu_hour, gpus, tokens_per_s),
        usd_per_hour=None if price is None else price.usd_per_gpu_hour * gpus,
        tpot_p50_s=at.tpot_p50_s or 0.0,
        replicas_for_rate=replicas_for_rate,
        gpus_for_rate=None
        if replicas_for_rate is None
        else replicas_for_rate * candidate.tensor_parallel_size,
    )


def objective_values(obj: Objectives, kind: ObjectiveKind) -> tuple[float, float]:
    """(first, second) objective, both minimized: $/Mtok at the SLO (or minus goodput per GPU-hour where there
    is no price or that is the objective) and the median time per output token."""
    if kind == "cost" and obj.usd_per_mtok is not None:
        return obj.usd_per_mtok, obj.tpot_p50_s
    return -obj.goodput_per_gpu_hour, obj.tpot_p50_s


def rank_key(point: TunePoint, kind: ObjectiveKind) -> tuple[float, ...]:
    """Best first: fewest GPUs for the target rate (when there is one), then the first objective, then latency."""
    obj = point.objectives
    if obj is None:
        return (math.inf, math.inf, math.inf)
    first, second = objective_values(obj, kind)
    gpus = float(obj.gpus_for_rate) if obj.gpus_for_rate is not None else 0.0
    return (gpus, first, second)


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a != b


def pareto_front(points: Sequence[TunePoint], kind: ObjectiveKind) -> tuple[int, ...]:
    """Indexes of the points no other point dominates on both objectives (points without objectives left out)."""
    values = [
        (i, objective_values(p.objectives, kind)) for i, p in enumerate(points) if p.objectives is not None
    ]
    front = [i for i, v in values if not any(_dominates(w, v) for _, w in values)]
    return tuple(sorted(front, key=lambda i: objective_values(points[i].objectives, kind)))  # type: ignore[arg-type]
