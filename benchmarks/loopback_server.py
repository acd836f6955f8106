"""A minimal, fast OpenAI-compatible streaming server for benchmarking benchmark clients on loopback.

It answers `/v1/completions` and `/v1/chat/completions` with exactly `max_tokens` streamed tokens, one SSE
event per token, paced by one global tick (every `--tick-ms`) so that each token arrives in its own read, as
from a real server. It parses as little as it can and prebuilds every response chunk, so that the client,
not the server, is what a benchmark of it measures. It also speaks enough of vLLM (`/v1/models` with
`owned_by: vllm`, `/tokenize`, `/version`, continuous usage) for both vLLM's client and slotune's.

Control: GET /stats returns the server-side arrival time (time.perf_counter, CLOCK_MONOTONIC, comparable
across processes on Linux) of every generation request since the last POST /reset.

    python benchmarks/loopback_server.py --port 0 --tick-ms 2     # prints "PORT <n>" when ready
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import signal
import socket
import sys
import time
from typing import Any

try:
    import orjson

    def _loads(b: bytes) -> Any:
        return orjson.loads(b)

except ImportError:  # pragma: no cover

    def _loads(b: bytes) -> Any:
        return json.loads(b)


MODEL = "loopback"
_SLICE = 32  # streams written per loop callback within one tick
_HEAD_SSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _framed(payload: bytes) -> bytes:
    event = b"data: " + payload + b"\n\n"
    return f"{len(event):x}\r\n".encode() + event + b"\r\n"


def _json_response(obj: Any, status: str = "200 OK") -> bytes:
    body = json.dumps(obj).encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


_CHUNK_CACHE: dict[tuple[bool, int, bool, bool, int], list[bytes]] = {}


def _chunks(chat: bool, n: int, continuous: bool, include_usage: bool, prompt_tokens: int) -> list[bytes]:
    """Every write of one response after the head: token events, then usage and [DONE] with the last token."""
    key = (chat, n, continuous, include_usage, prompt_tokens)
    cached = _CHUNK_CACHE.get(key)
    if cached is not None:
        return cached
    out: list[bytes] = []
    for i in range(1, n + 1):
        finish = "length" if i == n else None
        if chat:
            choice: dict[str, Any] = {"index": 0, "delta": {"content": " the"}, "finish_reason": finish}
            obj: dict[str, Any] = {
                "id": "c",
                "object": "chat.completion.chunk",
                "model": MODEL,
                "choices": [choice],
            }
        else:
            choice = {"index": 0, "text": " the", "logprobs": None, "finish_reason": finish}
            obj = {"id": "c", "object": "text_completion", "model": MODEL, "choices": [choice]}
        if continuous:
            obj["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": i,
                "total_tokens": prompt_tokens + i,
            }
        data = _framed(json.dumps(obj, separators=(",", ":")).encode())
        if chat and i == 1:
            role = {
                "id": "c",
                "object": "chat.completion.chunk",
                "model": MODEL,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            }
            data = _framed(json.dumps(role).encode()) + data
        if i == n:
            if include_usage:
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": n,
                    "total_tokens": prompt_tokens + n,
                }
                data += _framed(
                    json.dumps(
                        {
                            "id": "c",
                            "object": "text_completion",
                            "model": MODEL,
                            "choices": [],
                            "usage": usage,
                        }
                    ).encode()
                )
            data += _framed(b"[DONE]") + b"0\r\n\r\n"
        out.append(data)
    _CHUNK_CACHE[key] = out
    return out


class Server:
    def __init__(self, tick_s: float) -> None:
        self.tick_s = tick_s
        self.arrivals: list[float] = []
        self.active: list[list[Any]] = []  # [transport, chunks, next index]
        self._ticking = False

    def start_stream(self, transport: asyncio.Transport, chunks: list[bytes]) -> None:
        transport.write(_HEAD_SSE)
        self.active.append([transport, chunks, 0])
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_later(self.tick_s, self.tick)

    def tick(self) -> None:
        streams, self.active = self.active, []  # streams started during this tick wait for the next
        self._step(streams, 0, [])

    def _step(self, streams: list[list[Any]], start: int, still: list[list[Any]]) -> None:
        """Write the next token of streams[start:start + slice], then yield to the loop before the rest.

        One tick at a few thousand requests per second writes to hundreds of streams (about a millisecond of
        work); in slices, a request that arrives meanwhile is read, and its arrival time taken, within a
        slice's time instead of after the whole tick, so the arrival times judge the client, not the server.
        """
        end = min(start + _SLICE, len(streams))
        for stream in streams[start:end]:
            transport, chunks, i = stream
            if transport.is_closing():
                continue
            transport.write(chunks[i])
            stream[2] = i + 1
            if i + 1 < len(chunks):
                still.append(stream)
        loop = asyncio.get_running_loop()
        if end < len(streams):
            loop.call_soon(self._step, streams, end, still)
            return
        self.active = still + self.active
        if self.active:
            loop.call_later(self.tick_s, self.tick)
        else:
            self._ticking = False


class Conn(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            idx = head.lower().find(b"content-length:")
            if idx >= 0:
                line_end = head.find(b"\r\n", idx)
                length = int(head[idx + 15 : line_end if line_end >= 0 else len(head)])
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            first = head[: head.find(b"\r\n")] if b"\r\n" in head else head
            method, path = first.split(b" ")[:2]
            self.route(method, path, body)

    def route(self, method: bytes, path: bytes, body: bytes) -> None:
        t = self.transport
        assert t is not None
        s = self.server
        if path in (b"/v1/completions", b"/v1/chat/completions"):
            s.arrivals.append(time.perf_counter())
            req = _loads(body)
            n = int(req.get("max_tokens") or req.get("max_completion_tokens") or 16)
            opts = req.get("stream_options") or {}
            chat = path == b"/v1/chat/completions"
            prompt = (
                req.get("prompt") if not chat else " ".join(str(m.get("content")) for m in req["messages"])
            )
            prompt_tokens = len(prompt) if isinstance(prompt, list) else str(prompt).count(" ") + 1
            s.start_stream(
                t,
                _chunks(
                    chat,
                    n,
                    bool(opts.get("continuous_usage_stats")),
                    bool(opts.get("include_usage")),
                    prompt_tokens,
                ),
            )
        elif path == b"/v1/models":
            t.write(
                _json_response(
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": MODEL,
                                "object": "model",
                                "owned_by": "vllm",
                                "root": MODEL,
                                "max_model_len": 1 << 20,
                            }
                        ],
                    }
                )
            )
        elif path == b"/version":
            t.write(_json_response({"version": "loopback"}))
        elif path == b"/tokenize":
            req = _loads(body)
            text = req.get("prompt") or " ".join(str(m.get("content")) for m in req.get("messages", []))
            t.write(
                _json_response(
                    {"count": str(text).count(" ") + 1 if text else 0, "max_model_len": 1 << 20, "tokens": []}
                )
            )
        elif path == b"/stats":
            t.write(_json_response({"arrivals": s.arrivals}))
        elif path == b"/reset":
            s.arrivals = []
            t.write(_json_response({"ok": True}))
        else:
            t.write(_json_response({"error": {"message": "not found"}}, "404 Not Found"))


async def serve(port: int, tick_s: float, *, reuse_port: bool = False, announce: bool = True) -> None:
    # No collector pauses in the server either: they would show as late arrivals in the clients' lag. Only
    # connections (a few hundred, kept alive) form reference cycles here; everything else is freed on the spot.
    gc.collect()
    gc.freeze()
    gc.disable()
    loop = asyncio.get_running_loop()
    server = Server(tick_s)
    srv = await loop.create_server(
        lambda: Conn(server), "127.0.0.1", port, backlog=4096, reuse_port=reuse_port or None
    )
    if announce:
        print(f"PORT {srv.sockets[0].getsockname()[1]}", flush=True)
    await srv.serve_forever()


def _serve_process(port: int, tick_s: float) -> None:
    _install_uvloop()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(port, tick_s, reuse_port=True, announce=False))


def _install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tick-ms", type=float, default=2.0)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT); /stats then covers one process only",
    )
    args = parser.parse_args()
    if args.processes > 1:
        port = args.port or _free_port()
        procs = [
            multiprocessing.Process(target=_serve_process, args=(port, args.tick_ms / 1e3), daemon=True)
            for _ in range(args.processes)
        ]
        for proc in procs:
            proc.start()
        time.sleep(1.0)
        print(f"PORT {port}", flush=True)
        # SIGTERM ends the server processes with this one, instead of leaving them orphaned.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            with contextlib.suppress(KeyboardInterrupt):
                for proc in procs:
                    proc.join()
        finally:
            for proc in procs:
                proc.terminate()
        return
    _install_uvloop()
    try:
        asyncio.run(serve(args.port, args.tick_ms / 1e3))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
