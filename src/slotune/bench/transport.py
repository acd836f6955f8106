"""A minimal asyncio HTTP/1.1 client for streaming responses, built for timing accuracy and low overhead.

Why not aiohttp or httpx: a benchmark client must not become the bottleneck, and every streamed token costs
a coroutine switch and a few allocations in those libraries. Here the response is parsed inside the
protocol's `data_received` callback: the arrival time of each read is taken there, once, and the body bytes
go straight to a sink (the SSE/OpenAI handler). Only the end of a request wakes a coroutine.

Supported: keep-alive connection pooling, `Content-Length`, `Transfer-Encoding: chunked` and read-until-close
bodies, TLS (https), a total per-request timeout. Not supported (not needed to benchmark a server):
proxies, redirects, HTTP/2, compressed bodies (the request asks for identity encoding).
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Callable
from time import perf_counter
from typing import Protocol
from urllib.parse import urlsplit

from slotune.errors import InputError

# Idle keep-alive connections older than this are closed instead of reused. Servers close idle connections
# on their own timer (uvicorn, which serves vLLM: 5 s); a request written just as the server closes is lost
# or, worse, taken and then dropped, and its re-send would make the server do the work twice.
MAX_IDLE_S = 4.0
_SPARE_RETRY_S = 1.0


class ResponseSink(Protocol):
    """Receives one response. `t` is `time.perf_counter()` when the bytes were read from the socket."""

    def on_written(self, t: float) -> None: ...

    def on_head(self, status: int, headers: dict[str, str], t: float) -> None: ...

    def on_body(self, data: bytes, t: float) -> None: ...

    def on_end(self, t: float) -> None: ...

    def on_error(self, kind: str, message: str, t: float) -> None: ...


class Endpoint:
    """Where requests go: scheme, host, port and the path prefix of the base URL."""

    __slots__ = ("base_path", "host", "host_header", "port", "ssl_context")

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError("url", base_url, "give the server's base URL, e.g. http://127.0.0.1:8000")
        if parts.username or parts.password:
            raise InputError(
                "url",
                "<redacted>",
                "put credentials in OPENAI_API_KEY / SLOTUNE_API_KEY or --api-key, not in the URL",
            )
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        default_port = (parts.scheme == "https" and self.port == 443) or (
            parts.scheme == "http" and self.port == 80
        )
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.ssl_context: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        path = parts.path.rstrip("/")
        # Accept ".../v1" as well as the bare server root: routes are added as "/v1/...".
        self.base_path = path[:-3] if path.endswith("/v1") else path

    def url(self, path: str) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host_header}{self.base_path}{path}"


def build_request(
    method: str, endpoint: Endpoint, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """The full request as bytes, built once before the run so sending costs one `write`."""
    return build_request_raw(method, endpoint.host_header, endpoint.base_path + path, body, headers)


def build_request_raw(
    method: str, host_header: str, full_path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [
        f"{method} {full_path} HTTP/1.1",
        f"Host: {host_header}",
        "Accept-Encoding: identity",
        "Connection: keep-alive",
    ]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# Parser states.
_IDLE, _HEAD, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _LENGTH, _UNTIL_CLOSE = range(8)
_MAX_HEAD_BYTES = 64 * 1024


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; parses responses in `data_received`."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.num_responses = 0
        self._sink: ResponseSink | None = None
        self._state = _IDLE
        self._buf = b""
        self._remaining = 0
        self._keep_alive = True
        self._got_bytes = False
        self._timer: asyncio.TimerHandle | None = None
        self._reused = False
        self._request = b""
        self._deadline: float | None = None
        self.idle_since = perf_counter()

    # asyncio callbacks ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        t = perf_counter()
        if self._sink is None:
            # Bytes nobody asked for on an idle connection (a server writing after the response ended, or
            # nginx's "408 Request Timeout" before it closes): unusable. Closed first, so that no request is
            # sent on it and handed these bytes as its response.
            self._close()
            return
        pool = self._pool
        if t >= pool.next_due:
            # A send is due: make it before parsing, instead of after every read of this loop iteration
            # (a server that steps many streams at once delivers a burst of reads that can take a
            # millisecond to parse; the send schedule must not wait behind it).
            pool.on_due()
        self._got_bytes = True
        if self._state == _CHUNK_SIZE and not self._buf:
            # The common read of a stream: exactly one whole chunk, "<hex size>\r\n<data>\r\n". Handled
            # without the state machine (it runs once per streamed token); anything else takes _parse.
            end = data.find(b"\r\n", 0, 10)
            if end > 0 and data.endswith(b"\r\n"):
                try:
                    size = int(data[:end], 16)
                except ValueError:
                    size = -1
                if size > 0 and end + size + 4 == len(data):
                    self._sink.on_body(data[end + 2 : -2], t)
                    return
        try:
            self._parse(data, t)
        except _ProtocolError as exc:
            self._fail("protocol", str(exc), t)

    def eof_received(self) -> bool | None:
        return False  # let the transport close; connection_lost reports

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        t = perf_counter()
        self._pool._forget(self)
        sink = self._sink
        if sink is None:
            return
        if self._state == _UNTIL_CLOSE:
            self._finish(t, reusable=False)
            return
        if self._state == _HEAD and not self._buf and not self._got_bytes:
            if self._reused:
                # A keep-alive connection the server closed while idle; it never saw this request.
                request, deadline = self._request, self._deadline
                self._reset()
                self._pool.resend(request, sink, deadline)
                return
            self._fail("connection", "server closed the connection before responding", t)
        else:
            self._fail("connection", "connection lost mid-response" + (f": {exc}" if exc else ""), t)

    # requests --------------------------------------------------------------------------------------
    def send(self, request: bytes, sink: ResponseSink, deadline: float | None, *, reused: bool) -> None:
        assert self.transport is not None and self._sink is None
        self._sink = sink
        self._state = _HEAD
        self._buf = b""
        self._got_bytes = False
        self._keep_alive = True
        self._reused = reused
        self._request = request if reused else b""
        self._deadline = deadline
        if deadline is not None:
            loop = asyncio.get_running_loop()
            # perf_counter and the loop's monotonic clock share an epoch on Linux/macOS, but not everywhere:
            # convert through "seconds from now".
            self._timer = loop.call_later(max(0.0, deadline - perf_counter()), self._on_timeout)
        self.transport.write(request)
        sink.on_written(perf_counter())

    def _on_timeout(self) -> None:
        self._timer = None
        self._fail("timeout", "request timed out", perf_counter())

    def _fail(self, kind: str, message: str, t: float) -> None:
        sink = self._sink
        self._reset()
        self._close()
        if sink is not None:
            sink.on_error(kind, message, t)

    def _finish(self, t: float, *, reusable: bool) -> None:
        sink = self._sink
        keep = reusable and self._keep_alive and not self.closed
        self._reset()
        self.num_responses += 1
        if keep:
            self._pool._release(self)
        else:
            self._close()
        if sink is not None:
            sink.on_end(t)

    def _reset(self) -> None:
        self._sink = None
        self._state = _IDLE
        self._buf = b""
        self._request = b""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self._pool._forget(self)
            if self.transport is not None:
                self.transport.close()

    # parsing -------------------------------------------------------------------------------------
    def _parse(self, data: bytes, t: float) -> None:
        buf = self._buf + data if self._buf else data
        self._buf = b""
        pos = 0
        n = len(buf)
        while pos < n or self._state == _HEAD:
            state = self._state
            sink = self._sink
            if sink is None:
                return
            if state == _CHUNK_DATA:
                take = min(self._remaining, n - pos)
                sink.on_body(buf[pos : pos + take], t)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _CHUNK_CRLF
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    self._buf = buf[pos:]
                    return
                size_field = buf[pos:end]
                if b";" in size_field:
                    size_field = size_field.split(b";", 1)[0]
                try:
                    size = int(size_field, 16)
                except ValueError:
                    raise _ProtocolError(f"bad chunk size {size_field[:40]!r}") from None
                pos = end + 2
                if size == 0:
                    self._state = _TRAILERS
                elif pos + size + 2 <= n and buf[pos + size : pos + size + 2] == b"\r\n":
                    # The common case, a whole chunk in this read: no trip through the other states.
                    sink.on_body(buf[pos : pos + size], t)
                    pos += size + 2
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_CRLF:
                if n - pos < 2:
                    self._buf = buf[pos:]
                    return
                if buf[pos : pos + 2] != b"\r\n":
                    raise _ProtocolError("chunk not followed by CRLF")
                pos += 2
                self._state = _CHUNK_SIZE
            elif state == _LENGTH:
                take = min(self._remaining, n - pos)
                sink.on_body(buf[pos : pos + take], t)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._finish(t, reusable=pos == n)
                    return
            elif state == _UNTIL_CLOSE:
                sink.on_body(buf[pos:], t)
                return
            elif state == _TRAILERS:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    self._buf = buf[pos:]
                    return
                line_empty = end == pos
                pos = end + 2
                if line_empty:
                    self._finish(t, reusable=pos == n)
                    return
            elif state == _HEAD:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    if n - pos > _MAX_HEAD_BYTES:
                        raise _ProtocolError("response head too large")
                    self._buf = buf[pos:]
                    return
                head = buf[pos:end]
                pos = end + 4
                status, headers = _parse_head(head)
                if 100 <= status < 200:
                    continue  # 100 Continue and friends: the real response follows
                self._start_body(status, headers, sink, t)
                if self._state == _IDLE:
                    return  # a body-less response finished in _start_body
            else:
                raise _ProtocolError("bytes received while idle")
        self._buf = b""

    def _start_body(self, status: int, headers: dict[str, str], sink: ResponseSink, t: float) -> None:
        if headers.get("connection", "").lower() == "close":
            self._keep_alive = False
        sink.on_head(status, headers, t)
        if self._sink is None:
            return  # the sink gave up (e.g. closed on its own)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _CHUNK_SIZE
        elif "content-length" in headers:
            try:
                self._remaining = int(headers["content-length"])
            except ValueError:
                raise _ProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
            if self._remaining == 0 or status in (204, 304):
                self._finish(t, reusable=True)
            else:
                self._state = _LENGTH
        elif status in (204, 304):
            self._finish(t, reusable=True)
        else:
            self._keep_alive = False
            self._state = _UNTIL_CLOSE


class _ProtocolError(Exception):
    pass


def _nothing() -> None:
    return None


def _drop_traceback(exc: BaseException) -> None:
    """Cut the reference cycle a caught exception keeps: its traceback holds the frames that hold it (through
    asyncio's future). With the collector off during a run (bench.loops), each would stay in memory."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__context__ or current.__cause__


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise _ProtocolError(f"not an HTTP response: {lines[0][:80]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise _ProtocolError(f"bad status line {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if parts[0] == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    return status, headers


class ConnectionPool:
    """Keep-alive connections to one endpoint. Not thread-safe: one pool per event loop.

    `submit` never blocks and never raises: it writes on an idle connection, or opens one in a task, and
    every outcome (response, error, timeout) reaches the sink.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout_s: float = 10.0,
        max_idle_s: float = MAX_IDLE_S,
        spare: int = 0,
    ) -> None:
        self.endpoint = endpoint
        self.connect_timeout_s = connect_timeout_s
        self.max_idle_s = max_idle_s
        # Idle connections kept ready: when fewer are left, more are opened in the background, so that a
        # send never waits for a TCP (and TLS) handshake when the load grows (an open loop's in-flight count
        # rises with the server's latency, which is unknown before the run).
        self.spare = spare
        self._opening = 0
        self._spare_paused_until = 0.0  # after a failed background connect: no storm against a dead server
        self._idle: list[Connection] = []
        self._all: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.num_opened = 0
        self.num_resent = 0
        # The open-loop scheduler's next send time and what to call when a read finds it passed.
        self.next_due = math.inf
        self.on_due: Callable[[], None] = _nothing

    def detach_schedule(self) -> None:
        """The open loop is over: no send is due, and the pool lets go of the scheduler's callback (which
        holds the worker: no pool -> worker reference cycle is left behind)."""
        self.next_due = math.inf
        self.on_due = _nothing

    def submit(self, request: bytes, sink: ResponseSink, *, timeout_s: float | None = None) -> None:
        deadline = None if timeout_s is None else perf_counter() + timeout_s
        now = perf_counter()
        while self._idle:
            conn = self._idle.pop()
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if now - conn.idle_since > self.max_idle_s:
                conn._close()  # the server may be closing it right now: never race its keep-alive timeout
                continue
            conn.send(request, sink, deadline, reused=True)
            idle = self._idle
            if idle and now - idle[0].idle_since > self.max_idle_s:
                idle.pop(0)._close()  # the bottom of the stack went stale: close it now, not when needed
            if len(idle) + self._opening < self.spare:
                self._top_up()
            return
        self._open_then_send(request, sink, deadline)
        if self.spare:
            self._top_up()

    def _top_up(self) -> None:
        """Open connections in the background until `spare` are idle or on their way."""
        if perf_counter() < self._spare_paused_until:
            return
        loop = asyncio.get_running_loop()
        for _ in range(self.spare - len(self._idle) - self._opening):
            self._opening += 1
            task = loop.create_task(self._open_spare())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _open_spare(self) -> None:
        try:
            conn = await self._connect()
        finally:
            self._opening -= 1
        if not isinstance(conn, Connection):
            self._spare_paused_until = perf_counter() + _SPARE_RETRY_S
            return
        self.num_opened += 1
        self._all.add(conn)
        self._idle.append(conn)

    def _open_then_send(self, request: bytes, sink: ResponseSink, deadline: float | None) -> None:
        task = asyncio.get_running_loop().create_task(self._open_and_send(request, sink, deadline))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def prewarm(self, count: int) -> int:
        """Open `count` idle connections before a run, so its first requests do not pay for TCP set-up
        (and a burst of connects does not delay the schedule). Returns how many opened."""
        tries = await asyncio.gather(*(self._connect() for _ in range(count)))
        opened = [c for c in tries if isinstance(c, Connection)]
        for conn in opened:
            self.num_opened += 1
            self._all.add(conn)
            self._idle.append(conn)
        return len(opened)

    async def _connect(self, timeout_s: float | None = None) -> Connection | tuple[str, str]:
        """A new connection, or why it could not be opened: the error kind ("timeout", "connection") and text."""
        ep = self.endpoint
        try:
            _, conn = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(
                    lambda: Connection(self), ep.host, ep.port, ssl=ep.ssl_context
                ),
                self.connect_timeout_s if timeout_s is None else timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            timed_out = isinstance(exc, TimeoutError | asyncio.TimeoutError)
            failure = ("timeout" if timed_out else "connection", str(exc) or type(exc).__name__)
            _drop_traceback(exc)
            return failure
        return conn

    def resend(self, request: bytes, sink: ResponseSink, deadline: float | None) -> None:
        """A reused connection closed before any response byte: the server never took the request."""
        self.num_resent += 1
        self._open_then_send(request, sink, deadline)

    async def _open_and_send(self, request: bytes, sink: ResponseSink, deadline: float | None) -> None:
        timeout = self.connect_timeout_s
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - perf_counter()))
        try:
            conn = await self._connect(timeout)
        except asyncio.CancelledError:
            sink.on_error("interrupted", "run stopped while connecting", perf_counter())
            raise
        if not isinstance(conn, Connection):
            kind, text = conn
            ep = self.endpoint
            sink.on_error(kind, f"cannot connect to {ep.host}:{ep.port}: {text}", perf_counter())
            return
        self.num_opened += 1
        self._all.add(conn)
        conn.send(request, sink, deadline, reused=False)

    def _release(self, conn: Connection) -> None:
        if not conn.closed:
            conn.idle_since = perf_counter()
            self._idle.append(conn)

    def _forget(self, conn: Connection) -> None:
        self._all.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)

    @property
    def num_open(self) -> int:
        return len(self._all)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._all):
            conn._close()
        self._idle.clear()
