"""Plain (non-streamed) HTTP calls for probes and `/metrics` scrapes, on the same minimal transport."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from slotune.bench.client import _loads
from slotune.bench.transport import ConnectionPool, build_request


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    error: str | None = None

    def json(self) -> Any:
        return _loads(self.body)


class _Collect:
    __slots__ = ("body", "future", "headers", "status")

    def __init__(self) -> None:
        self.future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()

    def on_written(self, t: float) -> None:
        pass

    def on_head(self, status: int, headers: dict[str, str], t: float) -> None:
        self.status = status
        self.headers = headers

    def on_body(self, data: bytes, t: float) -> None:
        self.body += data

    def on_end(self, t: float) -> None:
        if not self.future.done():
            self.future.set_result(Response(self.status, self.headers, bytes(self.body)))

    def on_error(self, kind: str, message: str, t: float) -> None:
        if not self.future.done():
            self.future.set_result(
                Response(self.status, self.headers, bytes(self.body), error=f"{kind}: {message}")
            )


async def fetch(
    pool: ConnectionPool,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> Response:
    sink = _Collect()
    pool.submit(build_request(method, pool.endpoint, path, body, headers), sink, timeout_s=timeout_s)
    return await sink.future


async def post_json(
    pool: ConnectionPool,
    path: str,
    obj: Any,
    *,
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> Response:
    """POST a JSON body (vLLM's /tokenize and the like)."""
    body = json.dumps(obj).encode()
    return await fetch(
        pool,
        "POST",
        path,
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout_s=timeout_s,
    )
