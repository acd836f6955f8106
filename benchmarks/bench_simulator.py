"""Simulator speed and memory: the full Azure conversation trace, and 100k vs 1M streamed requests.

    .venv/bin/python benchmarks/bench_simulator.py [--trace ../shared/data/AzureLLMInferenceTrace_conv.csv]

1. Replays the whole Azure LLM inference trace (conversation, 19,366 requests, ~1 h) on Llama-3.1-8B / H100
   with vLLM's defaults, pinned to one CPU core; prints wall and CPU time and the speed-up over real time
   (goal: <= 5 s, >= 700x). With --stepwise it also runs every step through the scheduler and checks that the
   results are identical to the fast path's.
2. Streams N synthetic requests (Poisson arrivals at the trace's mean rate, lengths resampled from the trace,
   generated lazily) through `Simulator.run_streaming`, each N in a fresh process, and prints peak RSS: memory
   stays flat from 100k to 1M requests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from slotune.catalog import get_gpu, get_model  # noqa: E402
from slotune.models import EngineConfig, RequestSpec, RunResult  # noqa: E402
from slotune.simulate import Simulator  # noqa: E402
from slotune.workload import read_workload  # noqa: E402

DEFAULT_TRACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "AzureLLMInferenceTrace_conv.csv"
GOAL_S = 5.0


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()}-core {platform.machine()} ({cpu}), Python {platform.python_version()}"


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over
    exec, so a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def comparable(result: RunResult) -> str:
    # Provenance and the fast-step count record which path computed the result; everything else must match.
    assert result.simulator is not None
    return result.model_copy(
        update={
            "provenance": result.provenance.model_copy(update={"extra": {}}),
            "simulator": result.simulator.model_copy(update={"num_fast_steps": 0}),
        }
    ).model_dump_json()


def bench_trace(trace: Path, *, stepwise: bool, repeat: int) -> None:
    workload = read_workload(trace)
    span = workload.duration_s
    model, gpu = get_model("llama-3.1-8b"), get_gpu("h100")
    print(f"trace: {trace.name}, {len(workload.requests):,} requests over {span:,.0f} s")
    print("model / GPU: llama-3.1-8b on h100-sxm, vLLM defaults (EngineConfig())")
    best = None
    result = None
    for i in range(repeat):
        sim = Simulator(model, gpu)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = sim.run(workload, EngineConfig())
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stats = result.simulator
        assert stats is not None
        print(
            f"  run {i + 1}: wall {wall:.2f} s, cpu {cpu:.2f} s, {stats.num_steps:,} engine steps "
            f"({stats.num_fast_steps / stats.num_steps:.0%} in closed-form decode runs)"
        )
        best = wall if best is None else min(best, wall)
    assert best is not None and result is not None
    simulated = result.duration_s
    verdict = "meets" if best <= GOAL_S else "MISSES"
    print(
        f"fast path: best wall {best:.2f} s for {simulated:,.0f} s simulated = {simulated / best:,.0f}x real time "
        f"({verdict} the {GOAL_S:.0f} s / 700x goal)"
    )
    summary = result.summary
    print(
        f"  simulated TTFT p50/p99 {summary.ttft_s.p50 * 1e3:.1f}/{summary.ttft_s.p99 * 1e3:.1f} ms, "  # type: ignore[operator]
        f"ITL p50/p99 {summary.itl_s.p50 * 1e3:.2f}/{summary.itl_s.p99 * 1e3:.1f} ms, "  # type: ignore[operator]
        f"{summary.output_tokens_per_s:,.0f} output tok/s"
    )
    if stepwise:
        sim = Simulator(model, gpu, fast_forward=False)
        wall0 = time.perf_counter()
        slow = sim.run(workload, EngineConfig())
        wall = time.perf_counter() - wall0
        same = comparable(slow) == comparable(result)
        print(
            f"step-by-step path: wall {wall:.2f} s ({wall / best:.1f}x the fast path); "
            f"results identical to the fast path: {same}"
        )
        if not same:
            raise SystemExit("fast path and step-by-step path disagree")


def lazy_requests(
    num_requests: int, rate_rps: float, lengths: np.ndarray, seed: int
) -> Iterator[RequestSpec]:
    """Poisson arrivals, (prompt, output) pairs resampled from the trace; generated in chunks, never stored."""
    rng = np.random.default_rng(seed)
    t = 0.0
    done = 0
    while done < num_requests:
        n = min(65_536, num_requests - done)
        gaps = rng.exponential(1.0 / rate_rps, n)
        picks = lengths[rng.integers(0, len(lengths), n)]
        for gap, (prompt, output) in zip(gaps.tolist(), picks.tolist(), strict=True):
            t += gap
            yield RequestSpec.model_construct(
                request_id=str(done),
                arrival_s=t,
                prompt_tokens=prompt,
                output_tokens=output,
                prefix_block_ids=(),
            )
            done += 1


def stream_child(num_requests: int, trace: Path) -> None:
    """Runs in a fresh process: one streamed simulation, then its numbers as JSON on stdout."""
    pin_to_one_core()
    workload = read_workload(trace)
    lengths = np.array([(r.prompt_tokens, r.output_tokens) for r in workload.requests], dtype=np.int64)
    rate = (len(workload.requests) - 1) / workload.duration_s
    del workload
    baseline = peak_rss_mib()
    sim = Simulator(get_model("llama-3.1-8b"), get_gpu("h100"))
    wall0 = time.perf_counter()
    result = sim.run_streaming(lazy_requests(num_requests, rate, lengths, seed=0), EngineConfig())
    wall = time.perf_counter() - wall0
    print(
        json.dumps(
            {
                "num_requests": result.num_requests,
                "simulated_s": result.duration_s,
                "wall_s": wall,
                "peak_rss_mib": peak_rss_mib(),
                "rss_before_mib": baseline,
                "timeline_samples": len(result.timeline),
                "ttft_p99_s": result.summary.get("ttft_s.p99"),
                "steps": result.summary.get("engine.num_steps"),
            }
        )
    )


def bench_streaming(sizes: list[int], trace: Path) -> None:
    print("streaming mode (records dropped, quantile sketches; each size in a fresh process):")
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--stream-child", str(n), "--trace", str(trace)],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"  {row['num_requests']:>9,} requests: peak RSS {row['peak_rss_mib']:,.0f} MiB "
            f"(after loading inputs {row['rss_before_mib']:,.0f} MiB), wall {row['wall_s']:,.1f} s for "
            f"{row['simulated_s'] / 3600:,.1f} h simulated ({row['simulated_s'] / row['wall_s']:,.0f}x), "
            f"{row['steps']:,} steps, {row['timeline_samples']:,} timeline samples"
        )
    if len(rows) > 1:
        print(
            f"  peak RSS ratio {rows[-1]['num_requests'] // rows[0]['num_requests']}x requests: "
            f"{rows[-1]['peak_rss_mib'] / rows[0]['peak_rss_mib']:.2f}x memory"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stepwise", action="store_true", help="also run the step-by-step path and compare")
    parser.add_argument("--stream-sizes", default="100000,1000000", help="comma-separated; empty to skip")
    parser.add_argument("--stream-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        stream_child(args.stream_child, args.trace)
        return
    if not args.trace.is_file():
        raise SystemExit(
            f"trace not found: {args.trace} (give --trace PATH to AzureLLMInferenceTrace_conv.csv)"
        )
    print(f"machine: {machine()}; {pin_to_one_core()}")
    bench_trace(args.trace, stepwise=args.stepwise, repeat=args.repeat)
    sizes = [int(s) for s in args.stream_sizes.split(",") if s.strip()]
    if sizes:
        bench_streaming(sizes, args.trace)


if __name__ == "__main__":
    main()
