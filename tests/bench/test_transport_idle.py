"""Keep-alive reuse: idle connections older than the pool's limit are closed, not reused."""

from __future__ import annotations

import asyncio

from fake_server import FakeOpenAIServer

from slotune.bench.fetch import fetch
from slotune.bench.transport import ConnectionPool, Endpoint


async def _two_requests(url: str, *, max_idle_s: float, pause_s: float) -> int:
    pool = ConnectionPool(Endpoint(url), max_idle_s=max_idle_s)
    try:
        first = await fetch(pool, "GET", "/v1/models")
        await asyncio.sleep(pause_s)
        second = await fetch(pool, "GET", "/v1/models")
        assert first.status == second.status == 200
        return pool.num_opened
    finally:
        pool.close()


def test_a_fresh_idle_connection_is_reused() -> None:
    with FakeOpenAIServer() as server:
        assert asyncio.run(_two_requests(server.url, max_idle_s=5.0, pause_s=0.05)) == 1


def test_an_old_idle_connection_is_replaced_before_the_server_times_it_out() -> None:
    with FakeOpenAIServer() as server:
        assert asyncio.run(_two_requests(server.url, max_idle_s=0.05, pause_s=0.2)) == 2
