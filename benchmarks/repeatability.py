"""How repeatable is one measurement? The same fidelity run, repeated on one vLLM server and on a restarted one,
beside the simulator's prediction for it.

The fidelity suite (benchmarks/fidelity.py) compares one measurement per (configuration, workload, load) with
the simulator. Where the same run, repeated minutes apart on the same server or on a restarted one, gives
different latencies, no simulator can be closer to a single measurement than that spread: this script measures
it. It repeats fidelity runs of one configuration (the same workload slice, rate, schedule and seed each time)
--repeats times per server on --servers fresh servers, and prints each run's mean E2E, TTFT, ITL and TPOT with
the host's steal time and CPU clock over the run, the simulated values of the platform's calibrated profile,
and per load the repeat-to-repeat spread: the mean absolute deviation of the runs from their own mean (the
error of a simulator that predicts their mean exactly).

    flock /work/notes/vllm.lock .venv/bin/python benchmarks/repeatability.py [--servers 2] [--repeats 3]
    bash benchmarks/gpu/repeat_h200.sh          # on the lent H200, after the kit's staging calls
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import fidelity  # noqa: E402

from slotune.catalog import get_gpu, get_model, load_profile  # noqa: E402
from slotune.simulate.simulator import Simulator  # noqa: E402
from slotune.validate import suite  # noqa: E402
from slotune.validate.api import AtLoad, measure  # noqa: E402

# The committed fidelity passes' rates (cpu: inside benchmarks/results/fidelity-cpu/fidelity-cpu.tgz).
RATES = {
    "cpu": {"azure-conv": {"light": 0.7641, "knee": 2.2922}},
    "h200": json.loads((REPO_ROOT / "benchmarks/results/fidelity-h200/loads.json").read_text()),
}
RATES["cpu-dry"] = RATES["cpu"]  # the GPU script's dry run here (DRY=1)
PROFILES = {
    "cpu": "cpu-epyc-2c-tiny-llama.yaml",
    "cpu-dry": "cpu-epyc-2c-tiny-llama.yaml",
    "h200": "h200-llama-3.1-8b.yaml",
}
METRICS = ("e2e", "ttft", "itl", "tpot")


def host_counters() -> tuple[int, int, float]:
    """(steal ticks, all ticks) from /proc/stat and the mean clock of the host's CPUs (MHz)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    mhz = [
        float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines() if "MHz" in line
    ]
    return fields[7], sum(fields), statistics.fmean(mhz) if mhz else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", choices=tuple(RATES), default="cpu")
    parser.add_argument("--config", default="default", help="a configuration of the platform (fidelity.py)")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workload", default="azure-conv", choices=tuple(fidelity.SOURCES))
    parser.add_argument("--levels", nargs="+", default=["light", "knee"], choices=suite.LOAD_LEVELS)
    parser.add_argument(
        "--log-dir", type=Path, help="where the servers' logs are kept (default: a temp folder)"
    )
    args = parser.parse_args()
    from slotune.launch.backend import VllmBackend
    from slotune.models.launch import ServerRequest

    platform = fidelity.PLATFORMS[args.platform]
    engine = platform.engine(args.config)
    workload = fidelity.workloads(platform)[args.workload]
    profile = load_profile(REPO_ROOT / "src/slotune/catalog/profiles" / PROFILES[args.platform])
    spec = (
        platform.model_spec
        if Path(platform.model_spec).is_absolute()
        else str(REPO_ROOT / platform.model_spec)
    )
    model, gpu = get_model(spec), get_gpu(platform.gpu)
    w_index = list(fidelity.SOURCES).index(args.workload)
    seeds = {level: 100 * w_index + fidelity.LEVELS.index(level) for level in args.levels}
    loads = {
        level: suite.open_loop(
            RATES[args.platform][args.workload][level], platform.duration_s, fidelity.ARRIVALS[args.workload]
        )
        for level in args.levels
    }
    simulated = {}
    for level, load in loads.items():
        s = Simulator(model, gpu, profile=profile, seed=seeds[level]).run(workload, engine, load=load).summary
        simulated[level] = {m: getattr(s, f"{m}_s").mean for m in METRICS}
    rows: list[tuple[int, int, str, dict[str, float], float, float]] = []
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = args.log_dir or Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        for server_index in range(args.servers):
            request = ServerRequest(model=platform.model, engine_config=engine, env=dict(platform.env))
            with VllmBackend(fidelity.launcher_for(platform, log_dir), request) as backend:
                backend.ensure_server(engine)
                for repeat in range(args.repeats):
                    for level, load in loads.items():
                        real = AtLoad(
                            backend,
                            tokenizer=fidelity.probe_job(platform, args.config).tokenizer,
                            load=load,
                            seed=seeds[level],
                            timeout_s=600.0,
                            exact_output=True,
                        )
                        steal0, total0, mhz0 = host_counters()
                        measured, _ = measure(real, workload, engine)
                        steal1, total1, mhz1 = host_counters()
                        steal = (steal1 - steal0) / max(1, total1 - total0)
                        values = {m: getattr(measured.summary, f"{m}_s").mean for m in METRICS}
                        rows.append((server_index, repeat, level, values, steal, (mhz0 + mhz1) / 2))
                        print(
                            f"[{time.time() - started:5.0f} s] server {server_index} repeat {repeat} {level}: "
                            + "  ".join(f"{m} {1e3 * v:7.1f} ms" for m, v in values.items()),
                            file=sys.stderr,
                            flush=True,
                        )
    print(
        f"{args.platform}, {args.config} configuration, {args.workload} slice, "
        f"{args.servers} servers x {args.repeats} repeats"
    )
    print(
        f"{'server':>6} {'repeat':>6} {'load':8} "
        + " ".join(f"{m + ' ms':>9}" for m in METRICS)
        + f" {'steal %':>8} {'CPU MHz':>8}"
    )
    for server_index, repeat, level, values, steal, mhz in rows:
        print(
            f"{server_index:>6} {repeat:>6} {level:8} "
            + " ".join(f"{1e3 * values[m]:9.1f}" for m in METRICS)
            + f" {100 * steal:8.2f} {mhz:8.0f}"
        )
    print()
    print(
        f"{'load':8} {'metric':6} {'runs':>4} {'min ms':>8} {'max ms':>8} {'max/min':>8} {'spread MAD':>11} "
        f"{'sim ms':>8} {'sim vs mean':>12}"
    )
    for level in loads:
        for m in METRICS:
            values = [v[m] for _, _, lv, v, _, _ in rows if lv == level]
            mean = statistics.fmean(values)
            mad = statistics.fmean(abs(v / mean - 1) for v in values)
            sim = simulated[level][m]
            print(
                f"{level:8} {m:6} {len(values):>4} {1e3 * min(values):8.1f} {1e3 * max(values):8.1f} "
                f"{max(values) / min(values):8.2f} {100 * mad:10.1f}% {1e3 * sim:8.1f} "
                f"{100 * (sim / mean - 1):+11.1f}%"
            )


if __name__ == "__main__":
    main()
