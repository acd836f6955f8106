"""The load loop: sends requests on schedule (open loop) or as users free up (closed loop), callback-driven.

One worker runs in one event loop. The runner uses one in its own process, or several processes each with
a share of the jobs (round-robin, absolute send times kept), so that the client is never the bottleneck.
Nothing here allocates a task per request: a send is one socket write from a timer or completion callback.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from slotune.bench.client import ApiKind, OutputControl, StreamHandler, StreamResult, request_body
from slotune.bench.prompts import PromptBuilder
from slotune.bench.telemetry import CpuMeter, LoopLagMonitor
from slotune.bench.timer import OneShotTimer, make_timer
from slotune.bench.transport import ConnectionPool, build_request_raw
from slotune.load import ClosedLoopDraw, Job

# A job due within this margin is sent now rather than after one more timer round trip.
_EARLY_S = 20e-6


@dataclass(frozen=True, slots=True)
class WireJob:
    """A request ready to send: its bytes, its scheduled time (seconds after the run's start) and what it expects."""

    index: int
    request_id: str
    send_s: float | None
    warmup: bool
    request: bytes
    expected_prompt_tokens: int
    expected_output_tokens: int


@dataclass(slots=True)
class Outcome:
    job: WireJob
    result: StreamResult


@dataclass(frozen=True, slots=True)
class RequestFactory:
    """Turns a planned job into request bytes. Picklable, so worker processes can build closed-loop jobs."""

    host_header: str
    base_path: str
    api: ApiKind
    model: str
    control: OutputControl
    builder: PromptBuilder | None
    headers: tuple[tuple[str, str], ...]
    extra_body: tuple[tuple[str, Any], ...] = ()

    def make(self, job: Job) -> WireJob:
        spec = job.spec
        if self.builder is not None:
            built = self.builder.build(spec, job_index=job.seq, cycle=job.cycle)
            prompt, expected_prompt = built.prompt, built.expected_prompt_tokens
        else:
            prompt, expected_prompt = spec.text or "", spec.prompt_tokens
        max_tokens = spec.output_tokens
        body = request_body(
            api=self.api,
            model=self.model,
            prompt=prompt,
            max_tokens=max_tokens,
            control=self.control,
            extra=dict(self.extra_body) or None,
        )
        path = "/v1/chat/completions" if self.api == "chat" else "/v1/completions"
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream", **dict(self.headers)}
        request = build_request_raw("POST", self.host_header, self.base_path + path, body, headers)
        return WireJob(job.seq, job.request_id, job.send_s, job.warmup, request, expected_prompt, max_tokens)


@dataclass(slots=True)
class ClosedLoopSource:
    """Next job for a user free at `now` (perf_counter): the schedule's draw (slotune.load), as request bytes."""

    factory: RequestFactory
    draw: ClosedLoopDraw
    t0: float

    @property
    def think_time_s(self) -> float:
        return self.draw.schedule.think_time_s

    def next(self, now: float) -> WireJob | None:
        job = self.draw.next(now - self.t0)
        return None if job is None else self.factory.make(job)


class LoadWorker:
    def __init__(
        self,
        pool: ConnectionPool,
        *,
        on_outcome: Callable[[Outcome], None],
        keep_text: bool,
        timeout_s: float | None,
    ) -> None:
        self.pool = pool
        self.on_outcome = on_outcome
        self.keep_text = keep_text
        self.timeout_s = timeout_s
        self.lag = LoopLagMonitor()
        self.cpu = CpuMeter()
        self.num_sent = 0
        self._inflight: set[StreamHandler] = set()
        self._stopping = False
        self._scheduling_done = False
        self._idle: asyncio.Event | None = None
        self._source: ClosedLoopSource | None = None
        self._users_active = 0

    # shared --------------------------------------------------------------------------------------
    def _fire(self, job: WireJob) -> None:
        handler = StreamHandler(
            keep_text=self.keep_text, on_done=self._done, context=job, sent_t=perf_counter()
        )
        self._inflight.add(handler)
        self.num_sent += 1
        self.pool.submit(job.request, handler, timeout_s=self.timeout_s)

    def _done(self, handler: StreamHandler) -> None:
        self._inflight.discard(handler)
        self.on_outcome(Outcome(handler.context, handler.result))
        source = self._source
        if source is not None:
            # After the current read is parsed, so the connection is back in the pool for the next send; a
            # user with a think time waits exactly that long.
            loop = asyncio.get_running_loop()
            if source.think_time_s > 0:
                loop.call_later(source.think_time_s, self._next_closed)
            else:
                loop.call_soon(self._next_closed)
        self._check_idle()

    def _check_idle(self) -> None:
        if (
            self._scheduling_done
            and not self._inflight
            and self._users_active == 0
            and self._idle is not None
        ):
            self._idle.set()

    def stop(self) -> None:
        """Send nothing more; requests in flight finish normally."""
        self._stopping = True
        self._scheduling_done = True
        self._check_idle()

    def interrupt(self) -> None:
        """Stop now: requests in flight end as aborted, keeping what they received."""
        self._stopping = True
        self._scheduling_done = True
        t = perf_counter()
        for handler in list(self._inflight):
            handler.interrupt(t)
        self.pool.close()
        self._check_idle()

    # open loop -----------------------------------------------------------------------------------
    async def run_open(self, jobs: list[WireJob], t0: float) -> None:
        """Send each job at t0 + its send_s. A timer callback fires every job that is due, then re-arms."""
        self._idle = asyncio.Event()
        self.lag.start()
        self.cpu = CpuMeter()
        loop = asyncio.get_running_loop()
        position = 0
        timer: OneShotTimer | None = None

        pool = self.pool

        def on_timer() -> None:
            nonlocal position
            now = perf_counter()
            while position < len(jobs) and not self._stopping:
                job = jobs[position]
                assert job.send_s is not None
                due = t0 + job.send_s
                if due > now + _EARLY_S:
                    assert timer is not None
                    timer.arm(due)
                    pool.next_due = due  # a read that comes later than this sends first (transport)
                    return
                self._fire(job)
                position += 1
                now = perf_counter()
            pool.next_due = math.inf
            self._scheduling_done = True
            self._check_idle()

        timer = make_timer(loop, on_timer)
        pool.on_due = on_timer
        try:
            if jobs:
                first = jobs[0].send_s
                assert first is not None
                timer.arm(t0 + first)
            else:
                self._scheduling_done = True
            await self._wait_idle()
        finally:
            pool.detach_schedule()
            timer.close()
            await self.lag.stop()

    async def _wait_idle(self) -> None:
        assert self._idle is not None
        self._check_idle()
        await self._idle.wait()

    # closed loop ---------------------------------------------------------------------------------
    async def run_closed(self, users: int, source: ClosedLoopSource) -> None:
        self._idle = asyncio.Event()
        self._source = source
        self.lag.start()
        self.cpu = CpuMeter()
        delay = source.t0 - perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        self._users_active = users  # each user's chain of requests ends with one decrement
        self._scheduling_done = True  # closed loop: done when every user has retired
        loop = asyncio.get_running_loop()
        for _ in range(users):
            loop.call_soon(self._next_closed)
        try:
            await self._wait_idle()
        finally:
            await self.lag.stop()

    def _next_closed(self) -> None:
        source = self._source
        assert source is not None
        job = None if self._stopping else source.next(perf_counter())
        if job is None:
            self._users_active -= 1
            self._check_idle()
            return
        self._fire(job)


def telemetry_of(worker: LoadWorker) -> dict[str, Any]:
    return {
        "cpu_utilization": worker.cpu.utilization(),
        "loop_lag_s": list(worker.lag.lags_s),
        "connections_opened": worker.pool.num_opened,
        "requests_resent": worker.pool.num_resent,
        "num_sent": worker.num_sent,
        "wall_time": time.time(),
    }
