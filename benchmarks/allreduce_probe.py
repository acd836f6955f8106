"""What an all-reduce of tensor-parallel activations costs on real GPUs: NCCL through PyTorch, one process per GPU.

Run on a machine with 2+ NVLinked GPUs and torch:  python benchmarks/allreduce_probe.py
For sizes from 16 KiB to 64 MiB of bf16 it prints the time of one all-reduce issued eagerly (200 in a row) and
inside a CUDA graph (20 per graph, as vLLM's decode graphs capture them), and the bus bandwidth
2 (n-1)/n x bytes / time. docs/plan.md compares it with the step-cost model's
allreduce_latency_s + 2 (n-1)/n x bytes / (link x interconnect_efficiency). Keep NCCL_NVLS_ENABLE=0 where the
host's GPUs are shared (NVLink multicast can take them out of service).
"""

from __future__ import annotations

import os

SIZES_KIB = (16, 64, 256, 1024, 2048, 4096, 16384, 65536)


def _worker(rank: int, world: int, graph: bool) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29512")
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world, device_id=torch.device("cuda", rank))
    for kib in SIZES_KIB:
        x = torch.ones(kib * 512, dtype=torch.bfloat16, device="cuda")
        for _ in range(5):
            dist.all_reduce(x)
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if graph:
            stream = torch.cuda.Stream()
            with torch.cuda.stream(stream):
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g, stream=stream):
                    for _ in range(20):
                        dist.all_reduce(x)
            g.replay()
            torch.cuda.synchronize()
            start.record()
            for _ in range(10):
                g.replay()
        else:
            start.record()
            for _ in range(200):
                dist.all_reduce(x)
        end.record()
        torch.cuda.synchronize()
        us = start.elapsed_time(end) * 1e3 / 200
        if rank == 0:
            busbw = 2 * (world - 1) / world * kib * 1024 / (us * 1e-6) / 1e9
            print(f"tp={world} graph={graph} {kib:6d} KiB {us:8.2f} us busbw {busbw:7.1f} GB/s", flush=True)
    dist.destroy_process_group()


def main() -> None:
    import torch
    import torch.multiprocessing as mp

    world = torch.cuda.device_count()
    print(torch.cuda.get_device_name(0), world, torch.__version__, flush=True)
    for graph in (False, True):
        mp.spawn(_worker, args=(world, graph), nprocs=world)


if __name__ == "__main__":
    main()
