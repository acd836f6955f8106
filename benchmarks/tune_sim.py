"""`slotune tune` on the simulator: Llama-3.1-8B on an H100, the Azure conversation trace, the interactive-chat
SLO, a study of --budget configurations (a capacity search each) plus the three baselines. Prints the wall and
CPU time, the configurations evaluated, the recommendation and the baselines (docs/tuning.md records a run).

    PYTHONPATH=src python benchmarks/tune_sim.py [--trace PATH] [--budget 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna

from slotune.models import LoadSpec
from slotune.slo import resolve_slo
from slotune.tune import TuneOptions, tune
from slotune.workload.io import read_workload

TRACE = Path(__file__).parents[1].parent / "shared" / "data" / "AzureLLMInferenceTrace_conv.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--num-requests", type=int, default=500)
    parser.add_argument("--storage", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    workload = read_workload(args.trace)
    storage = args.storage or f"sqlite:///{tempfile.mkdtemp(prefix='slotune-tune-')}/study.db"
    wall, cpu = time.perf_counter(), time.process_time()
    report = tune(
        TuneOptions(
            model="llama-3.1-8b",
            gpus=["h100"],
            workload=workload,
            slo=resolve_slo("interactive-chat"),
            load=LoadSpec(kind="rate", rate_rps=1.0, arrival="trace", num_requests=args.num_requests),
            storage=storage,
            budget=args.budget,
        )
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"workload: {workload.name}, {len(workload.requests):,} requests; SLO interactive-chat")
    print(
        f"{report.num_configurations} configurations searched with a capacity search each "
        f"(+ {len(report.baselines)} baselines and a {report.grid.num_trials if report.grid else 0}-point grid), "
        f"{report.num_pruned} pruned before any run, {report.num_sim_runs} simulator runs"
    )
    print(f"wall {wall:,.1f} s, CPU {cpu:,.1f} s (limit: 300 s)")
    rows = [*report.baselines.items()]
    if report.grid is not None:
        rows.append((f"auto_tune grid ({report.grid.num_trials} trials)", report.grid.pick))  # type: ignore[arg-type]
    rec = report.recommendation
    if rec is not None:
        rows.append(("recommended", rec.point))
    base = report.baselines["defaults"].objectives
    for name, point in rows:
        obj = point.objectives if point is not None else None
        if point is None or obj is None or point.capacity is None:
            print(f"  {name:<28} SLO never held")
            continue
        ratio = obj.goodput_rps / base.goodput_rps if base else float("nan")
        print(
            f"  {name:<28} {point.capacity.max_rate_rps:6.2f} req/s  goodput {obj.goodput_rps:6.2f} req/s "
            f"({ratio:4.2f}x defaults)  ${obj.usd_per_mtok or 0:.3f}/Mtok  TPOT p50 {obj.tpot_p50_s * 1e3:5.1f} ms  "
            f"binds: {point.capacity.binding.kind if point.capacity.binding else '-'}"
        )
    if rec is not None:
        print(rec.command_line)


if __name__ == "__main__":
    main()
