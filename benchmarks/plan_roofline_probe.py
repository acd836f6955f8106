"""Measure what the planner's roofline assumes, on a real GPU: driver-reported memory, achievable HBM bandwidth,
and bf16/fp8 GEMM time across batch sizes for Llama-3.1-8B's MLP shapes (the decode memory/compute crossover).

Run on a CUDA machine with torch:  python benchmarks/plan_roofline_probe.py [--out FILE]
Prints one JSON object; docs/plan.md records the numbers measured on an H100 80GB HBM3.
"""

from __future__ import annotations

import argparse
import json
import sys


def _time_ms(fn, *, warmup: int = 5, iters: int = 20) -> float:
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    free, total = torch.cuda.mem_get_info()
    out: dict = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "total_memory_bytes": total,
        "total_memory_gib": total / 2**30,
        "free_memory_bytes_after_context": free,
    }
    # HBM bandwidth: a 4 GiB device-to-device copy reads and writes every byte once.
    n = 2**30
    src = torch.empty(n, dtype=torch.float32, device="cuda")
    dst = torch.empty_like(src)
    ms = _time_ms(lambda src=src, dst=dst: dst.copy_(src))
    out["copy_bytes_per_s"] = 2 * 4 * n / (ms / 1e3)
    src = dst = None
    # GEMMs of Llama-3.1-8B's gate_up projection: [batch, 4096] x [4096, 28672] (bf16 and fp8).
    k, n_out = 4096, 28672
    w = torch.randn(n_out, k, device="cuda", dtype=torch.bfloat16)
    rows = []
    for batch in (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 8192):
        x = torch.randn(batch, k, device="cuda", dtype=torch.bfloat16)
        ms = _time_ms(lambda x=x: torch.nn.functional.linear(x, w))
        flops = 2 * batch * k * n_out
        bytes_moved = 2 * (k * n_out + batch * k + batch * n_out)
        row = {
            "batch": batch,
            "bf16_ms": ms,
            "bf16_flops_per_s": flops / (ms / 1e3),
            "bf16_bytes_per_s": bytes_moved / (ms / 1e3),
        }
        try:
            w8 = w.to(torch.float8_e4m3fn)
            x8 = x.to(torch.float8_e4m3fn)
            one = torch.ones((), device="cuda", dtype=torch.float32)
            ms8 = _time_ms(
                lambda x8=x8, w8=w8, one=one: torch._scaled_mm(
                    x8, w8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16
                )
            )
            row |= {
                "fp8_ms": ms8,
                "fp8_flops_per_s": flops / (ms8 / 1e3),
                "fp8_bytes_per_s": (k * n_out + batch * k + 2 * batch * n_out) / (ms8 / 1e3),
            }
        except (RuntimeError, AttributeError) as exc:  # no FP8 tensor cores (A100) or old torch
            row["fp8_error"] = str(exc)[:120]
        rows.append(row)
    out["gemm_gate_up_4096x28672"] = rows
    text = json.dumps(out, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
