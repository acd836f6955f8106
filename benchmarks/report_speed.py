"""Report size, build time and time to interactive for a 100,000-request run.

    .venv/bin/python benchmarks/report_speed.py [--requests 100000] [--keep DIR]

1. Simulates N chatbot requests (Poisson, 20 req/s, seed 0) on Llama-3.1-8B / H100 with the interactive-chat
   SLO and saves the result as `slotune simulate --out` does (records beside it, plot data in it); --keep DIR
   reuses a run saved there by an earlier call.
2. Builds the report with the CLI in a fresh process, `slotune report run.json -o report.html`: once with an
   empty bundle cache (the first report on a machine, which bundles Vega), then three times with the cache
   filled. Goals: <= 5 MB and <= 3 s (cache filled).
3. Opens it in headless Chromium five times and reads the page's own clock (performance.now(), from navigation
   start) when the last figure is drawn. Goal: <= 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "report"))  # the headless Chromium driver of the browser test

GOAL_SIZE_MB = 5.0
GOAL_BUILD_S = 3.0
GOAL_INTERACTIVE_S = 2.0


def machine() -> str:
    cpu = platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return f"{os.cpu_count()}-core {platform.machine()} ({cpu}), Python {platform.python_version()}"


def save_run(folder: Path, num_requests: int) -> Path:
    from slotune.models import EngineConfig
    from slotune.results import save_result
    from slotune.simulate.api import simulate
    from slotune.slo import resolve_slo
    from slotune.workload import synthesize

    path = folder / "run.json"
    if path.is_file():
        print(f"run: reusing {path}")
        return path
    workload = synthesize(preset="chatbot", rate_rps=20.0, num_requests=num_requests, seed=0)
    started = time.perf_counter()
    report = simulate(
        "llama-3.1-8b", "h100-sxm", workload, EngineConfig(), slo=resolve_slo("interactive-chat")
    )
    simulated_s = time.perf_counter() - started
    started = time.perf_counter()
    save_result(report, path)
    print(
        f"run: {num_requests:,} requests simulated in {simulated_s:,.1f} s, saved in {time.perf_counter() - started:,.1f} s"
    )
    records = path.with_name("run.records.jsonl")
    print(f"     {path.stat().st_size / 1e6:,.2f} MB report + {records.stat().st_size / 1e6:,.0f} MB records")
    return path


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(run: Path, out: Path, cache_dir: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `slotune report` in a fresh process, start-up included."""
    env = {**os.environ, "SLOTUNE_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO / "src")}
    cpu = _children_cpu_s()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "slotune", "report", str(run), "-o", str(out), "--json"],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started, _children_cpu_s() - cpu


def time_to_interactive(report: Path, runs: int = 5) -> tuple[list[float], list[float]]:
    """(seconds from navigation start to the last figure drawn, browser CPU seconds meanwhile) per run."""
    from headless import chromium_page, find_chromium

    binary = find_chromium()
    if binary is None:
        raise SystemExit("chromium is not installed: run `bash scripts/setup_report_browser.sh`")
    times, cpu = [], []
    for _ in range(runs):
        with chromium_page(binary) as page:
            before = page.cpu_s()
            page.navigate(report.as_uri())
            page.wait_for("document.documentElement.dataset.figuresDrawn", poll_s=0.01)
            cpu.append(page.cpu_s() - before)
            state = page.evaluate("window.slotuneReport")
            assert state["failed"] == 0 and state["drawn"] == state["figures"], state
            assert not page.events.console_errors, page.events.console_errors
            times.append(state["readyMs"] / 1e3)
    return times, cpu


def verdict(value: float, goal: float) -> str:
    return "meets the goal" if value <= goal else "MISSES the goal"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Folder to save the run in, and reuse it from.")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="slotune-report-speed-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        run = save_run(folder, args.requests)
        out = Path(scratch) / "report.html"
        cache = Path(scratch) / "cache"
        cold_s, _ = build(run, out, cache)
        warm_runs = [build(run, out, cache) for _ in range(3)]
        warm = [wall for wall, _ in warm_runs]
        size_mb = out.stat().st_size / 1e6
        tti, browser_cpu = time_to_interactive(out)
    warm_s = statistics.median(warm)
    interactive_s = statistics.median(tti)
    print(f"report size: {size_mb:,.2f} MB (goal <= {GOAL_SIZE_MB:g} MB): {verdict(size_mb, GOAL_SIZE_MB)}")
    print(f"build, first report on the machine (bundles Vega): {cold_s:,.2f} s")
    print(
        f"build, bundle cached: median {warm_s:,.2f} s of {', '.join(f'{t:.2f}' for t in warm)} "
        f"(goal <= {GOAL_BUILD_S:g} s): {verdict(warm_s, GOAL_BUILD_S)}; "
        f"CPU time median {statistics.median(cpu for _, cpu in warm_runs):,.2f} s"
    )
    print(
        f"time to interactive (navigation start to the last figure drawn): median {interactive_s:,.2f} s of "
        f"{', '.join(f'{t:.2f}' for t in tti)} (goal <= {GOAL_INTERACTIVE_S:g} s): "
        f"{verdict(interactive_s, GOAL_INTERACTIVE_S)}"
    )
    print(f"browser CPU time until then (all its processes): median {statistics.median(browser_cpu):,.2f} s")
    print(f"load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min)")


if __name__ == "__main__":
    main()
