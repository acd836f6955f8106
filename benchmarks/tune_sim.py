"""`slotune tune` on the simulator: Llama-3.1-8B on an H100, the Azure conversation trace, the interactive-chat
SLO, a study of --budget configurations (a capacity search each) plus the three baselines. Prints the wall and
CPU time, the configurations evaluated, the recommendation and the baselines (docs/tuning.md records a run).

    PYTHONPATH=src python benchmarks/tune_sim.py [--trace PATH] [--budget 100] [--workers 2]

`--workers N` runs the study in N processes on one SQLite study, as `slotune tune --worker` does on several
hosts: this process starts it (tier walk, baselines, then search), N-1 workers join and search at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path

import optuna

from slotune.models import LoadSpec, Workload
from slotune.slo import resolve_slo
from slotune.tune import TuneOptions, tune
from slotune.tune.study import open_storage
from slotune.workload.io import read_workload

TRACE = Path(__file__).parents[1].parent / "shared" / "data" / "AzureLLMInferenceTrace_conv.csv"


def _options(args: argparse.Namespace, workload: Workload, storage: str, study: str) -> TuneOptions:
    return TuneOptions(
        model="llama-3.1-8b",
        gpus=["h100"],
        workload=workload,
        slo=resolve_slo("interactive-chat"),
        load=LoadSpec(kind="rate", rate_rps=1.0, arrival="trace", num_requests=args.num_requests),
        storage=storage,
        budget=args.budget,
        study_name=study,
    )


def _worker(options: TuneOptions) -> None:
    """Join the study once the leader has created it and queued its first trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if optuna.load_study(study_name=options.study_name, storage=options.storage).trials:
                break
        except KeyError:  # not created yet
            pass
        time.sleep(0.5)
    tune(dataclasses.replace(options, worker=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--num-requests", type=int, default=500)
    parser.add_argument("--storage", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--workers", type=int, default=1, help="processes searching the study together")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    workload = read_workload(args.trace)
    storage = args.storage or f"sqlite:///{tempfile.mkdtemp(prefix='slotune-tune-')}/study.db"
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    options = _options(args, workload, storage, f"tune-sim-{uuid.uuid4().hex[:8]}")
    wall, cpu = time.perf_counter(), time.process_time()
    open_storage(storage)  # the tables are created once, before any worker opens the file
    workers = [
        multiprocessing.get_context("fork").Process(target=_worker, args=(options,))
        for _ in range(args.workers - 1)
    ]
    for worker in workers:
        worker.start()
    report = tune(options)
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a worker failed (exit code {worker.exitcode})")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += children.ru_utime + children.ru_stime
    print(f"workload: {workload.name}, {len(workload.requests):,} requests; SLO interactive-chat")
    print(
        f"{report.num_configurations} configurations searched with a capacity search each "
        f"(+ {len(report.baselines)} baselines and a {report.grid.num_trials if report.grid else 0}-point grid), "
        f"{report.num_pruned} pruned before any run, {report.num_sim_runs} simulator runs"
    )
    print(
        f"wall {wall:,.1f} s, CPU {cpu:,.1f} s in {args.workers} process(es) (limit: 300 s wall); "
        f"load average before: {load_before}"
    )
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
