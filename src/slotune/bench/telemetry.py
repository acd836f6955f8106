"""Client-side telemetry: the client's own CPU use and event-loop lag, and GPU telemetry through NVML.

A benchmark client that is itself saturated delays sends and reads, and then measures itself. These numbers
feed the validity checks. GPU telemetry is read only where `pynvml` imports and finds a GPU on this host
(the server's GPU when the server runs here); otherwise it is absent, never zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slotune.models import LagStats
from slotune.models.reports import GpuSample, GpuTelemetryReport


@dataclass(slots=True)
class CpuMeter:
    """This process's CPU time over a wall-clock interval (1.0 = one core fully busy)."""

    wall_start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=time.process_time)

    def utilization(self) -> float:
        wall = time.perf_counter() - self.wall_start
        return (time.process_time() - self.cpu_start) / wall if wall > 0 else 0.0


def _proc_stat_busy_idle() -> tuple[float, float] | None:
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    values = [float(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    return sum(values) - idle, idle


class HostCpuMeter:
    """Whole-machine CPU busy fraction (Linux /proc/stat): shows when a loopback server and client share cores."""

    def __init__(self) -> None:
        self._start = _proc_stat_busy_idle()

    def utilization(self) -> float | None:
        end = _proc_stat_busy_idle()
        if self._start is None or end is None:
            return None
        busy = end[0] - self._start[0]
        total = busy + end[1] - self._start[1]
        return busy / total if total > 0 else None


class LoopLagMonitor:
    """Samples how late the event loop wakes a timer: a busy loop delays every send and read."""

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.lags_s: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        interval = self.interval_s
        while True:
            expected = time.perf_counter() + interval
            await asyncio.sleep(interval)
            self.lags_s.append(max(0.0, time.perf_counter() - expected))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def lag_stats(lags_s: list[float] | np.ndarray) -> LagStats | None:
    arr = np.asarray(lags_s, dtype=float)
    if arr.size == 0:
        return None
    p50, p99 = np.percentile(arr, [50, 99])
    return LagStats(
        count=int(arr.size),
        mean_s=float(arr.mean()),
        p50_s=float(p50),
        p99_s=float(p99),
        max_s=float(arr.max()),
    )


def is_this_host(host: str) -> bool:
    """Whether a server's host name or address is this machine (loopback, or an address it can bind)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    for family, _, _, _, address in infos:
        ip = str(address[0])
        if ipaddress.ip_address(ip.split("%", 1)[0]).is_loopback:
            return True
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.bind((ip, 0))  # only an address of one of this machine's interfaces binds
            return True
        except OSError:
            continue
    return False


class GpuTelemetry:
    """NVML sampling of every local GPU; `available` is False where pynvml or a GPU is missing, or when
    `enabled` is False (the server runs on another machine, so these GPUs are not the ones serving)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.available = False
        self.samples: list[dict[str, Any]] = []
        self.names: list[str] = []
        self._nvml: Any = None
        self._handles: list[Any] = []
        if not enabled:
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = pynvml
            self.available = count > 0
        except Exception:
            self.available = False
            return
        for handle in self._handles:
            try:
                name = pynvml.nvmlDeviceGetName(handle)
            except Exception:
                name = ""
            self.names.append(name.decode() if isinstance(name, bytes) else str(name))

    def sample(self, time_s: float) -> None:
        if not self.available:
            return
        nvml = self._nvml
        for index, handle in enumerate(self._handles):
            try:
                util = nvml.nvmlDeviceGetUtilizationRates(handle)
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                power_w = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
            except Exception:
                continue
            self.samples.append(
                {
                    "time_s": time_s,
                    "gpu": index,
                    "util": util.gpu / 100.0,
                    "mem_util": util.memory / 100.0,
                    "memory_used_bytes": int(mem.used),
                    "power_w": power_w,
                }
            )

    def summary(self) -> GpuTelemetryReport | None:
        if not self.available or not self.samples:
            return None
        per_gpu: list[GpuSample] = []
        for index in range(len(self._handles)):
            rows = [s for s in self.samples if s["gpu"] == index]
            if not rows:
                continue
            per_gpu.append(
                GpuSample(
                    gpu=index,
                    name=self.names[index],
                    util_mean=float(np.mean([r["util"] for r in rows])),
                    memory_used_bytes_max=int(max(r["memory_used_bytes"] for r in rows)),
                    power_w_mean=float(np.mean([r["power_w"] for r in rows])),
                )
            )
        return GpuTelemetryReport(num_gpus=len(self._handles), per_gpu=tuple(per_gpu))

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()


def num_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
