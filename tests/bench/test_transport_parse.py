"""The HTTP/1.1 response parser of the transport: however the bytes are split into reads (one chunk per read,
the fast path; several; or a chunk cut anywhere), the body and the end come out the same."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from slotune.bench.transport import Connection, ConnectionPool, Endpoint


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


class _Recorder:
    def __init__(self) -> None:
        self.status = 0
        self.body = b""
        self.reads = 0
        self.ended = 0
        self.errors: list[str] = []

    def on_written(self, t: float) -> None:
        pass

    def on_head(self, status: int, headers: dict[str, str], t: float) -> None:
        self.status = status

    def on_body(self, data: bytes, t: float) -> None:
        self.body += data
        self.reads += 1

    def on_end(self, t: float) -> None:
        self.ended += 1

    def on_error(self, kind: str, message: str, t: float) -> None:
        self.errors.append(f"{kind}: {message}")


def _chunked(payloads: list[bytes], *, extension: bool, trailer: bool) -> list[bytes]:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = [
        f"{len(p):x}".encode() + (b";name=value" if extension else b"") + b"\r\n" + p + b"\r\n"
        for p in payloads
    ]
    last = b"0\r\n" + (b"X-Trailer: 1\r\n" if trailer else b"") + b"\r\n"
    return [head, *chunks, last]


def _feed(reads: list[bytes]) -> tuple[_Recorder, Connection]:
    pool = ConnectionPool(Endpoint("http://127.0.0.1:1"))
    conn = Connection(pool)
    conn.connection_made(_Transport())  # type: ignore[arg-type]
    sink = _Recorder()
    conn.send(b"GET / HTTP/1.1\r\n\r\n", sink, None, reused=False)
    for data in reads:
        conn.data_received(data)
    return sink, conn


payload = st.binary(min_size=1, max_size=40).map(lambda b: b"data: " + b.replace(b"\n", b" ") + b"\r\n\n")


@settings(max_examples=300, deadline=None)
@given(
    payloads=st.lists(payload, min_size=1, max_size=6),
    extension=st.booleans(),
    trailer=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_any_split_gives_the_same_body(
    payloads: list[bytes], extension: bool, trailer: bool, cuts: list[int]
) -> None:
    whole = b"".join(_chunked(payloads, extension=extension, trailer=trailer))
    points = sorted({c % (len(whole) + 1) for c in cuts} | {0, len(whole)})
    reads = [whole[a:b] for a, b in pairwise(points) if b > a]
    sink, conn = _feed(reads)
    assert sink.errors == []
    assert sink.status == 200 and sink.body == b"".join(payloads) and sink.ended == 1
    assert conn.num_responses == 1


def test_one_chunk_per_read_hands_each_chunk_over_whole() -> None:
    payloads = [b'data: {"n": %d}\n\n' % i for i in range(5)]
    sink, _ = _feed(_chunked(payloads, extension=False, trailer=False))
    assert sink.body == b"".join(payloads) and sink.reads == 5 and sink.ended == 1


def test_a_chunk_that_lies_about_its_size_is_a_protocol_error() -> None:
    head, *_ = _chunked([b"x"], extension=False, trailer=False)
    sink, _ = _feed([head, b"5\r\nhello!!\r\n"])  # 7 bytes where 5 were announced
    assert sink.errors and sink.errors[0].startswith("protocol")


def test_a_bad_chunk_size_is_a_protocol_error() -> None:
    head, *_ = _chunked([b"x"], extension=False, trailer=False)
    sink, _ = _feed([head, b"zz\r\nhello\r\n"])
    assert sink.errors and "bad chunk size" in sink.errors[0]
