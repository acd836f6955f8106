"""Scraping the server's `/metrics` while a run goes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from time import perf_counter

from slotune.bench.fetch import fetch
from slotune.bench.server_metrics import COUNTERS, RUNNING, WAITING, Snapshot, parse_prometheus
from slotune.bench.telemetry import GpuTelemetry
from slotune.bench.transport import ConnectionPool


def _counters(snap: Snapshot) -> tuple[float | None, ...]:
    return tuple(snap.total(*names) for names in COUNTERS.values())


@dataclass
class Scraper:
    pool: ConnectionPool
    headers: dict[str, str]
    t0: float
    interval_s: float
    gpu: GpuTelemetry
    snapshots: list[Snapshot] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    enabled: bool = True
    # How long each scrape took: a server that renders /metrics slowly (vLLM does it in its API process)
    # may also have been slow to stream tokens meanwhile.
    latencies_s: list[float] = field(default_factory=list)

    async def scrape(self) -> Snapshot | None:
        now = perf_counter() - self.t0
        self.gpu.sample(now)
        if not self.enabled:
            return None
        started = perf_counter()
        resp = await fetch(
            self.pool, "GET", "/metrics", headers=self.headers, timeout_s=max(2.0, self.interval_s)
        )
        self.latencies_s.append(perf_counter() - started)
        if resp.status != 200:
            self.failures.append(f"t={now:.1f}s: {resp.error or f'HTTP {resp.status}'}")
            return None
        snap = parse_prometheus(resp.body.decode("utf-8", "replace"), time_s=now)
        self.snapshots.append(snap)
        return snap

    def rebase(self, t0: float) -> None:
        """Move the clock's origin to the run's start (scrapes taken before it get negative times)."""
        shift = t0 - self.t0
        for snap in self.snapshots:
            snap.time_s -= shift
        self.t0 = t0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.scrape()

    async def settled(self, *, attempts: int = 15, pause_s: float = 0.2) -> Snapshot | None:
        """The closing scrape, once the server's counters have caught up with the last response.

        A server may stream a request's last token before it counts it (vLLM records a step's stats after
        sending its outputs), so scrape until no request is running and the counters stop moving.
        """
        previous = await self.scrape()
        for _ in range(attempts):
            if previous is None:
                return None
            await asyncio.sleep(pause_s)
            current = await self.scrape()
            if current is None:
                return previous
            idle = not current.total(RUNNING) and not current.total(WAITING)
            if idle and _counters(current) == _counters(previous):
                return current
            previous = current
        return previous
