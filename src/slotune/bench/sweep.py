"""Sweeps: the same workload at several load levels, listed or found automatically up to saturation.

Automatic rate sweep: one user first (closed loop, concurrency 1) gives the single-user request rate X;
then open-loop rates X, 2X, 4X, ... until the server saturates (it completes less than 90% of the offered
rate, its latency grows through the run (a queue builds), more than 1% of requests fail, or the run is
invalid), then two bisection steps between the last rate it sustained and the first it did not. Automatic concurrency sweep: 1, 2, 4, ... users until output throughput grows less
than 5% from one level to the next. Each level is a full run in its own folder, with its own seed (level_seed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from slotune.bench.runner import BenchOutcome, BenchSettings, ProgressReporter, run_bench
from slotune.errors import InputError
from slotune.models import Workload
from slotune.models.reports import SweepPoint, SweepReport
from slotune.results import RESULT_FILE, save_result, stamped

SweepKind = Literal["rate", "concurrency"]
_SATURATED_RATIO = 0.90
_MIN_GAIN = 0.05
_QUEUE_GROWTH = 1.5
_MAX_LEVELS = 12


@dataclass
class SweepOutcome:
    report: SweepReport
    outcomes: list[BenchOutcome]


def parse_levels(text: str) -> list[float] | Literal["auto"]:
    if text.strip().lower() == "auto":
        return "auto"
    levels: list[float] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise InputError(
                "sweep", text, "give comma-separated positive numbers, e.g. '1,2,4', or 'auto'"
            ) from None
        if not value > 0:
            raise InputError("sweep", text, "every level must be positive")
        levels.append(value)
    if not levels:
        raise InputError("sweep", text, "give comma-separated positive numbers, e.g. '1,2,4', or 'auto'")
    return levels


def level_seed(seed: int, index: int) -> int:
    """The seed of the sweep's level `index`: the sweep's own for the first, then one drawn from it. Levels
    with one seed would send the same prompts, and each level would find the last one's in the server's prefix
    cache and look faster than the workload is."""
    if index == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"slotune sweep {seed} {index}".encode()).digest()[:7], "big")


def _load_signals(outcome: BenchOutcome) -> tuple[float | None, float | None]:
    """(completion rate corrected for the drain at the end, late/early E2E ratio) of a run.

    A short run's throughput over first-send..last-finish is lowered by the last requests' latency even on
    an idle server, so completion is compared with n / (send span + median E2E). A server that keeps up
    has flat latency; one that does not builds a queue, so the last third's E2E grows past the first's.
    """
    ok = sorted((r for r in outcome.records if r.ok and r.e2e_s is not None), key=lambda r: r.arrival_s)
    if len(ok) < 3:
        return None, None
    e2e = np.asarray([r.e2e_s for r in ok], dtype=float)
    span = ok[-1].arrival_s - ok[0].arrival_s
    corrected = (len(ok) - 1) / (span + float(np.median(e2e))) if span > 0 else None
    third = len(ok) // 3
    trend = float(e2e[-third:].mean() / e2e[:third].mean()) if third and e2e[:third].mean() > 0 else None
    return corrected, trend


def _point(level: float, kind: SweepKind, outcome: BenchOutcome, base_dir: Path | None) -> SweepPoint:
    corrected, trend = _load_signals(outcome)
    out_dir = outcome.out_dir
    point = SweepPoint(
        level=level,
        kind=kind,
        valid=outcome.valid,
        invalid_reasons=outcome.reasons,
        summary=outcome.report.result.summary,
        completion_rate_rps=corrected,
        e2e_late_over_early=trend,
        result_path=str(out_dir.relative_to(base_dir))
        if out_dir is not None and base_dir is not None
        else None,
    )
    if kind == "rate":
        point = point.model_copy(update={"saturated": _saturated(point, level)})
    return point


def _saturated(point: SweepPoint, offered_rps: float) -> bool:
    s = point.summary
    failed = (s.num_failed if s else 0) / max(1, s.num_requests if s else 0)
    if failed > 0.01 or not point.valid:
        return True
    done = point.completion_rate_rps
    trend = point.e2e_late_over_early
    return (done is not None and done < _SATURATED_RATIO * offered_rps) or (
        trend is not None and trend > _QUEUE_GROWTH
    )


def run_sweep(
    settings: BenchSettings,
    workload: Workload,
    levels: list[float] | Literal["auto"],
    *,
    kind: SweepKind,
    max_level: float | None = None,
    progress: ProgressReporter | None = None,
) -> SweepOutcome:
    points: list[SweepPoint] = []
    outcomes: list[BenchOutcome] = []
    base_dir = settings.out_dir

    def run_level(level: float, level_kind: SweepKind) -> SweepPoint:
        if level_kind == "rate":
            load = settings.load.at_rate(level)
            name = f"rate-{level:g}"
        else:
            load = settings.load.with_users(int(level))
            name = f"concurrency-{int(level)}"
        out = None if base_dir is None else base_dir / name
        seed = level_seed(settings.seed, len(points))
        outcome = run_bench(replace(settings, load=load, out_dir=out, seed=seed), workload, progress=progress)
        outcomes.append(outcome)
        point = _point(level, level_kind, outcome, base_dir)
        points.append(point)
        return point

    if levels != "auto":
        for level in levels:
            if kind == "concurrency" and level != int(level):
                raise InputError("sweep", level, "concurrency levels are whole numbers of users")
            run_level(level, kind)
    elif kind == "concurrency":
        _auto_concurrency(run_level, int(max_level or 256))
    else:
        _auto_rate(run_level, max_level)
    report = stamped(
        SweepReport(
            sweep_kind=kind,
            levels="auto" if levels == "auto" else tuple(levels),
            points=tuple(points),
            max_sustained_rate_rps=_max_sustained(points) if kind == "rate" else None,
            valid=all(p.valid for p in points),
        )
    )
    if base_dir is not None:
        save_result(report, base_dir / RESULT_FILE)
    return SweepOutcome(report, outcomes)


def _auto_concurrency(run_level: Callable[[float, SweepKind], SweepPoint], cap: int) -> None:
    """1, 2, 4, ... users until output throughput grows less than 5% from one level to the next."""
    users, previous = 1, None
    for _ in range(_MAX_LEVELS):
        if users > cap:
            break
        point = run_level(users, "concurrency")
        tput = point.summary.output_tokens_per_s if point.summary else 0.0
        if previous is not None and tput < previous * (1 + _MIN_GAIN):
            break
        previous = tput
        users *= 2


def _auto_rate(run_level: Callable[[float, SweepKind], SweepPoint], max_level: float | None) -> None:
    """One user gives the single-user rate X; then X, 2X, 4X, ... to saturation, then two bisection steps."""
    single = run_level(1, "concurrency")
    base_rate = single.summary.request_throughput_rps if single.summary else 0.0
    if base_rate <= 0:
        raise InputError("sweep", "auto", "one user completed no request; check the server before sweeping")
    good, bad = None, None
    rate = base_rate
    for _ in range(_MAX_LEVELS - 1):
        if max_level is not None and rate > max_level:
            break
        point = run_level(rate, "rate")
        if point.saturated:
            bad = rate
            break
        good = rate
        rate *= 2
    for _ in range(2):
        if good is None or bad is None:
            break
        mid = (good + bad) / 2
        if run_level(mid, "rate").saturated:
            bad = mid
        else:
            good = mid


def _max_sustained(points: list[SweepPoint]) -> float | None:
    ok = [p.level for p in points if p.kind == "rate" and not p.saturated]
    return max(ok) if ok else None
