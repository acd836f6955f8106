"""Sweeps: the same workload at several load levels, listed or found automatically up to saturation.

Automatic rate sweep: one user first (closed loop, concurrency 1) gives the single-user request rate X;
then open-loop rates X, 2X, 4X, ... until the server saturates (it completes less than 90% of the offered
rate, its latency grows through the run (a queue builds), more than 1% of requests fail, or the run is
invalid), then two bisection steps between the last rate it sustained and the first it did not. Automatic concurrency sweep: 1, 2, 4, ... users until output throughput grows less
than 5% from one level to the next. Each level is a full run in its own folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from slotune.bench.results import write_summary
from slotune.bench.runner import BenchOutcome, BenchSettings, ProgressReporter, run_bench
from slotune.errors import InputError
from slotune.models import Workload

SweepKind = Literal["rate", "concurrency"]
_SATURATED_RATIO = 0.90
_MIN_GAIN = 0.05
_QUEUE_GROWTH = 1.5
_MAX_LEVELS = 12


@dataclass
class SweepOutcome:
    kind: SweepKind
    points: list[dict[str, Any]]
    outcomes: list[BenchOutcome]
    summary: dict[str, Any]


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


def _point(level: float, kind: SweepKind, outcome: BenchOutcome) -> dict[str, Any]:
    s = outcome.summary
    m = s.get("metrics") or {}
    corrected, trend = _load_signals(outcome)

    def stat(dist: str, name: str) -> float | None:
        d = m.get(dist) or {}
        return d.get(name)

    return {
        "level": level,
        "kind": kind,
        "valid": s["valid"],
        "invalid_reasons": s["invalid_reasons"],
        "request_throughput_rps": m.get("request_throughput_rps"),
        "output_tokens_per_s": m.get("output_tokens_per_s"),
        "num_requests": m.get("num_requests"),
        "num_failed": m.get("num_failed"),
        "ttft_p50_s": stat("ttft_s", "p50"),
        "ttft_p99_s": stat("ttft_s", "p99"),
        "tpot_p50_s": stat("tpot_s", "p50"),
        "itl_p99_s": stat("itl_s", "p99"),
        "e2e_p50_s": stat("e2e_s", "p50"),
        "slo_attainment": m.get("slo_attainment"),
        "goodput_rps": m.get("goodput_rps"),
        "completion_rate_rps": corrected,
        "e2e_late_over_early": trend,
        "out_dir": str(outcome.out_dir) if outcome.out_dir else None,
    }


def _saturated(point: dict[str, Any], offered_rps: float) -> bool:
    failed = (point["num_failed"] or 0) / max(1, point["num_requests"] or 0)
    if failed > 0.01 or not point["valid"]:
        return True
    done = point["completion_rate_rps"]
    trend = point["e2e_late_over_early"]
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
    points: list[dict[str, Any]] = []
    outcomes: list[BenchOutcome] = []
    base_dir = settings.out_dir

    def run_level(level: float, level_kind: SweepKind) -> dict[str, Any]:
        if level_kind == "rate":
            load = settings.load.at_rate(level)
            name = f"rate-{level:g}"
        else:
            load = settings.load.with_users(int(level))
            name = f"concurrency-{int(level)}"
        out = None if base_dir is None else base_dir / name
        outcome = run_bench(replace(settings, load=load, out_dir=out), workload, progress=progress)
        outcomes.append(outcome)
        point = _point(level, level_kind, outcome)
        points.append(point)
        return point

    if levels != "auto":
        for level in levels:
            if kind == "concurrency" and level != int(level):
                raise InputError("sweep", level, "concurrency levels are whole numbers of users")
            run_level(level, kind)
    elif kind == "concurrency":
        cap = int(max_level or 256)
        users, previous = 1, None
        while users <= cap and len(points) < _MAX_LEVELS:
            point = run_level(users, "concurrency")
            tput = point["output_tokens_per_s"] or 0.0
            if previous is not None and tput < previous * (1 + _MIN_GAIN):
                break
            previous = tput
            users *= 2
    else:
        single = run_level(1, "concurrency")
        base_rate = single["request_throughput_rps"] or 0.0
        if base_rate <= 0:
            raise InputError(
                "sweep", "auto", "one user completed no request; check the server before sweeping"
            )
        good, bad = None, None
        rate = base_rate
        while len(points) < _MAX_LEVELS:
            if max_level is not None and rate > max_level:
                break
            point = run_level(rate, "rate")
            if _saturated(point, rate):
                bad = rate
                break
            good = rate
            rate *= 2
        for _ in range(2):
            if good is None or bad is None:
                break
            mid = (good + bad) / 2
            point = run_level(mid, "rate")
            if _saturated(point, mid):
                bad = mid
            else:
                good = mid
        for p in points:
            p["saturated"] = p["kind"] == "rate" and _saturated(p, p["level"])
    summary = {
        "schema": "slotune.bench.sweep/1",
        "kind": kind,
        "levels": levels,
        "points": points,
        "max_sustained_rate_rps": _max_sustained(points) if kind == "rate" else None,
        "valid": all(p["valid"] for p in points),
    }
    if base_dir is not None:
        write_summary(base_dir, summary)
    return SweepOutcome(kind, points, outcomes, summary)


def _max_sustained(points: list[dict[str, Any]]) -> float | None:
    ok = [p["level"] for p in points if p["kind"] == "rate" and not _saturated(p, p["level"])]
    return max(ok) if ok else None
