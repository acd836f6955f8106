"""Spare connections: an open loop's pool opens connections ahead of need, so a send never waits for a
handshake; and the schedule lag counts the moment a request reached the socket."""

from __future__ import annotations

import asyncio
import socket

from fake_server import FakeOpenAIServer

from slotune.bench.client import StreamHandler, StreamResult
from slotune.bench.fetch import fetch
from slotune.bench.runner import _prewarm_count, _spare_count
from slotune.bench.settings import BenchSettings
from slotune.bench.summary import send_times
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.bench.worker import WireJob
from slotune.models import LoadSpec, RequestRecord


async def _settle(pool: ConnectionPool, idle: int) -> None:
    for _ in range(200):
        if len(pool._idle) >= idle and not pool._opening:
            return
        await asyncio.sleep(0.01)


def test_the_pool_keeps_spare_idle_connections_ready() -> None:
    async def run(url: str) -> tuple[int, int, int]:
        pool = ConnectionPool(Endpoint(url), spare=3)
        try:
            first = await fetch(pool, "GET", "/v1/models")  # opened on demand, then 3 more in the background
            assert first.status == 200
            await _settle(pool, 3)
            opened_after_first = pool.num_opened
            # Two at once take two idle connections; the pool tops itself back up to 3 idle.
            both = await asyncio.gather(fetch(pool, "GET", "/v1/models"), fetch(pool, "GET", "/v1/models"))
            assert [r.status for r in both] == [200, 200]
            await _settle(pool, 3)
            return opened_after_first, pool.num_opened, len(pool._idle)
        finally:
            pool.close()

    with FakeOpenAIServer() as server:
        opened_after_first, opened, idle = asyncio.run(run(server.url))
    assert opened_after_first == 4  # the first request's own connection + 3 spare
    assert idle >= 3
    assert opened <= 6  # the two concurrent requests used spare ones; at most two replacements


def test_no_connect_storm_against_a_dead_server() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def run() -> tuple[list[str | None], int]:
        pool = ConnectionPool(Endpoint(url), spare=20)
        attempts = 0
        connect = pool._connect

        async def counting_connect(timeout_s: float | None = None) -> object:
            nonlocal attempts
            attempts += 1
            return await connect(timeout_s)

        pool._connect = counting_connect  # type: ignore[method-assign,assignment]
        try:
            errors = []
            for _ in range(30):
                errors.append((await fetch(pool, "GET", "/v1/models")).error)
            return errors, attempts
        finally:
            pool.close()

    errors, attempts = asyncio.run(run())
    assert all(e is not None and e.startswith("connection: cannot connect") for e in errors), errors
    # Each request tries once; the background top-up tries one round of 20, then waits a second after a
    # failure (a second round is allowed for a slow machine; without the pause it would be 30 rounds).
    assert 30 <= attempts <= 30 + 2 * 20, attempts


def _wire_job(i: int, send_s: float) -> WireJob:
    return WireJob(i, str(i), send_s, False, b"", 4, 4)


def _record(i: int) -> RequestRecord:
    return RequestRecord(
        request_id=str(i), arrival_s=0.0, prompt_tokens=4, output_tokens=0, finish_reason="error"
    )


def test_schedule_lag_counts_from_when_the_request_reached_the_socket() -> None:
    t0 = 100.0
    reused = StreamResult(sent_t=t0 + 0.0101, written_t=t0 + 0.0102)  # written on an idle connection
    waited = StreamResult(sent_t=t0 + 0.0200, written_t=t0 + 0.0350)  # waited 15 ms for a new connection
    refused = StreamResult(sent_t=t0 + 0.0300)  # never written: counted from its start
    measured = [
        (_wire_job(0, 0.010), reused, _record(0)),
        (_wire_job(1, 0.020), waited, _record(1)),
        (_wire_job(2, 0.030), refused, _record(2)),
    ]
    sched, sent = send_times(measured, t0)
    lags = (sent - sched).round(6).tolist()
    assert lags == [0.0002, 0.015, 0.0]


def test_spare_and_prewarm_follow_the_schedule() -> None:
    steady = [_wire_job(i, i / 1000) for i in range(2000)]  # 1,000 req/s
    assert _spare_count(steady) == 26  # sends within any 25 ms
    burst = [_wire_job(i, 5.0) for i in range(40)] + [_wire_job(40 + i, 6.0 + i) for i in range(3)]
    assert _spare_count(burst) == 40
    assert _spare_count([]) == 0
    settings = BenchSettings(url="http://x", model="m", load=LoadSpec(kind="rate", rate_rps=1000.0))
    assert _prewarm_count(settings, steady, 26) == 100 + 26  # the first 100 ms, plus the spare ones


def test_a_handler_records_when_its_request_was_written() -> None:
    handler = StreamHandler(keep_text=False, on_done=lambda h: None, sent_t=1.0)
    handler.on_written(1.5)
    assert handler.result.written_t == 1.5
