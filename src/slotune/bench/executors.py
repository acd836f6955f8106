"""Where the load loop runs: in this process, or split over several worker processes.

With `workers > 1` each worker process runs its own event loop and connection pool and gets a share of
the load: every W-th job of an open-loop schedule (absolute send times are kept, so the merged arrival
process is exactly the planned one; perf_counter's clock is system-wide on Linux and macOS), or a share of
the closed loop's users and of its request quota. Workers stream finished requests back in batches over a
pipe; this process writes the records, scrapes `/metrics` and draws the progress bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from slotune.bench.loops import run_with_loop
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.bench.worker import ClosedLoopSource, LoadWorker, Outcome, RequestFactory, WireJob, telemetry_of
from slotune.errors import BackendError
from slotune.load import ClosedLoopSchedule

_BATCH = 256
_FLUSH_S = 0.02


@dataclass(frozen=True)
class ClosedLoopPlan:
    """A closed-loop schedule, or one worker process's share of it: its users, its part of the measured quota
    and every `step`-th job index from `start`."""

    factory: RequestFactory
    schedule: ClosedLoopSchedule
    users: int
    quota: int | None
    start: int = 0
    step: int = 1

    @classmethod
    def of(cls, factory: RequestFactory, schedule: ClosedLoopSchedule) -> ClosedLoopPlan:
        return cls(factory, schedule, schedule.users, schedule.quota)

    def source(self, t0: float) -> ClosedLoopSource:
        draw = self.schedule.draw(start=self.start, step=self.step, quota=self.quota)
        return ClosedLoopSource(factory=self.factory, draw=draw, t0=t0)

    def share(self, k: int, n: int) -> ClosedLoopPlan:
        quota = None if self.quota is None else _share(self.quota, k, n)
        users = _share(self.users, k, n)
        return replace(self, users=users, quota=quota, start=k, step=n)


@dataclass(frozen=True)
class WorkerSpec:
    url: str
    keep_text: bool
    timeout_s: float | None
    prewarm: int
    open_jobs: list[WireJob] | None
    closed: ClosedLoopPlan | None
    event_loop: str = "auto"
    spare: int = 0  # idle connections the pool keeps ready (transport.ConnectionPool)


async def _run_worker(worker: LoadWorker, spec: WorkerSpec, t0: float) -> None:
    if spec.open_jobs is not None:
        await worker.run_open(spec.open_jobs, t0)
    else:
        assert spec.closed is not None
        await worker.run_closed(spec.closed.users, spec.closed.source(t0))


class InProcessLoad:
    """The load loop in this process's event loop."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.pool = ConnectionPool(Endpoint(spec.url), spare=spec.spare)
        self.worker: LoadWorker | None = None

    async def prepare(self) -> None:
        await self.pool.prewarm(self.spec.prewarm)

    async def run(self, t0: float, on_outcome: Callable[[Outcome], None]) -> None:
        self.worker = LoadWorker(
            self.pool, on_outcome=on_outcome, keep_text=self.spec.keep_text, timeout_s=self.spec.timeout_s
        )
        await _run_worker(self.worker, self.spec, t0)

    def interrupt(self) -> None:
        if self.worker is not None:
            self.worker.interrupt()

    def telemetry(self) -> list[dict[str, Any]]:
        return [telemetry_of(self.worker)] if self.worker is not None else []

    def close(self) -> None:
        self.pool.close()


# ----------------------------------------------------------------------------------------------------
# Worker processes.


def _watch(
    loop: asyncio.AbstractEventLoop, conn: Connection, callback: Callable[..., None], *args: Any
) -> None:
    """Call `callback` when a message starts to arrive on `conn`, and keep `conn` blocking.

    uvloop (libuv) makes a watched file descriptor non-blocking; a pipe's `recv` then fails with EAGAIN
    in the middle of a large message and a full pipe makes `send` fail. Messages are read whole once the
    first bytes are there, so blocking reads cost nothing, and a full pipe just waits for the reader.
    """
    loop.add_reader(conn.fileno(), callback, *args)
    os.set_blocking(conn.fileno(), True)


def _strip(job: WireJob) -> WireJob:
    return replace(job, request=b"")  # the parent does not need the request bytes back


def worker_process_main(conn: Connection, spec: WorkerSpec) -> None:
    """Entry point of a worker process: SIGINT is the parent's to handle; it tells us to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run_with_loop(spec.event_loop, _worker_process(conn, spec))
    except Exception as exc:  # report, never hang the parent
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


async def _worker_process(conn: Connection, spec: WorkerSpec) -> None:
    loop = asyncio.get_running_loop()
    pool = ConnectionPool(Endpoint(spec.url), spare=spec.spare)
    await pool.prewarm(spec.prewarm)
    batch: list[tuple[WireJob, Any]] = []

    def flush() -> None:
        if batch:
            conn.send(("outcomes", list(batch)))
            batch.clear()

    def on_outcome(outcome: Outcome) -> None:
        batch.append((_strip(outcome.job), outcome.result))
        if len(batch) >= _BATCH:
            flush()

    worker = LoadWorker(pool, on_outcome=on_outcome, keep_text=spec.keep_text, timeout_s=spec.timeout_s)
    go: asyncio.Future[float] = loop.create_future()

    def on_message() -> None:
        try:
            kind, value = conn.recv()
        except (EOFError, OSError):
            kind, value = "interrupt", None
        if kind == "go" and not go.done():
            go.set_result(float(value))
        elif kind == "interrupt":
            if not go.done():
                go.set_result(-1.0)
            worker.interrupt()

    _watch(loop, conn, on_message)
    conn.send(("ready", None))
    t0 = await go
    if t0 >= 0:

        async def flusher() -> None:
            while True:
                await asyncio.sleep(_FLUSH_S)
                flush()

        task = loop.create_task(flusher())
        try:
            await _run_worker(worker, spec, t0)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    loop.remove_reader(conn.fileno())
    flush()
    conn.send(("done", telemetry_of(worker)))
    pool.close()


class MultiProcessLoad:
    """The load split over `len(specs)` worker processes."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        self.specs = specs
        self._ctx = mp.get_context("spawn")  # no fork: the tokenizer's threads and the event loop stay here
        self._procs: list[Any] = []
        self._conns: list[Connection] = []
        self._telemetry: list[dict[str, Any]] = []
        self._errors: list[str] = []

    async def prepare(self) -> None:
        for spec in self.specs:
            parent, child = self._ctx.Pipe()
            proc = self._ctx.Process(target=worker_process_main, args=(child, spec), daemon=True)
            proc.start()
            child.close()
            self._procs.append(proc)
            self._conns.append(parent)
        loop = asyncio.get_running_loop()
        for conn in self._conns:
            kind, value = await loop.run_in_executor(None, conn.recv)
            if kind != "ready":
                self.close()
                raise BackendError(f"a load worker process failed to start: {value}")

    async def run(self, t0: float, on_outcome: Callable[[Outcome], None]) -> None:
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()
        pending = set(range(len(self._conns)))

        def on_readable(k: int) -> None:
            conn = self._conns[k]
            try:
                kind, value = conn.recv()
            except (EOFError, OSError):
                kind, value = "error", "worker process exited"
            if kind == "outcomes":
                for job, result in value:
                    on_outcome(Outcome(job, result))
                return
            if kind == "done":
                self._telemetry.append(value)
            else:
                self._errors.append(str(value))
            loop.remove_reader(conn.fileno())
            pending.discard(k)
            if not pending and not finished.done():
                finished.set_result(None)

        for k, conn in enumerate(self._conns):
            _watch(loop, conn, on_readable, k)
            conn.send(("go", t0))
        await finished
        if self._errors:
            raise BackendError("load worker process failed: " + "; ".join(self._errors))

    def interrupt(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(Exception):
                conn.send(("interrupt", None))

    def telemetry(self) -> list[dict[str, Any]]:
        return list(self._telemetry)

    def close(self) -> None:
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        for conn in self._conns:
            conn.close()


def make_load(
    *,
    url: str,
    workers: int,
    keep_text: bool,
    timeout_s: float | None,
    prewarm: int,
    open_jobs: list[WireJob] | None,
    closed: ClosedLoopPlan | None,
    event_loop: str = "auto",
    spare: int = 0,
) -> InProcessLoad | MultiProcessLoad:
    if workers <= 1:
        return InProcessLoad(
            WorkerSpec(url, keep_text, timeout_s, prewarm, open_jobs, closed, event_loop, spare)
        )
    specs = []
    for k in range(workers):
        share_jobs = None if open_jobs is None else open_jobs[k::workers]
        share_closed = None if closed is None else closed.share(k, workers)
        share_prewarm = max(1, _share(prewarm, k, workers))
        share_spare = _share(spare, k, workers)
        specs.append(
            WorkerSpec(
                url, keep_text, timeout_s, share_prewarm, share_jobs, share_closed, event_loop, share_spare
            )
        )
    return MultiProcessLoad(specs)


def _share(total: int, k: int, n: int) -> int:
    """Worker k's part of `total` split over n workers as evenly as whole numbers allow."""
    return total // n + (1 if k < total % n else 0)
