"""Incremental Server-Sent Events decoder (the WHATWG event-stream format), bytes in, events out.

Robust to what real servers and proxies do: events split across (or packed into) TCP reads, `\\r\\n`, `\\n`
or lone `\\r` line endings (a `\\r\\n` pair may be split between two reads), comment lines (`: ping`),
multi-line `data:` fields, `event:` types, and lines without a colon. The common case, one `data: ...`
line per event, takes a fast path because it runs once per streamed token.
"""

from __future__ import annotations

from typing import NamedTuple


class SSEEvent(NamedTuple):
    event: str
    data: bytes


_DATA_PREFIX = b"data: "
_MESSAGE = "message"


def _parse_block(block: bytes) -> SSEEvent | None:
    """One event block (its lines, without the blank line that ended it)."""
    if block.startswith(_DATA_PREFIX) and b"\n" not in block:
        return SSEEvent(_MESSAGE, block[6:])
    event = _MESSAGE
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue  # a stray blank line before the block, or a comment
        field, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data_lines.append(value)
        elif field == b"event":
            event = value.decode("utf-8", "replace") or _MESSAGE
        # `id`, `retry` and unknown fields do not matter to a benchmark client.
    if not data_lines:
        return None  # the spec dispatches nothing for an event without data
    return SSEEvent(event, b"\n".join(data_lines))


class SSEDecoder:
    """Feed bytes as they arrive; get back the events that are complete."""

    __slots__ = ("_buffer", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        # A read that ends in "\r" may be half of "\r\n": hold the "\r" until the next read says which.
        self._pending_cr = False

    def single(self, chunk: bytes) -> bytes | None:
        """The data of `chunk` when it is exactly one whole one-line `data:` event and nothing is pending
        (the per-token common case, with no list or event object made); else None, and `feed` it instead."""
        if (
            not self._buffer
            and not self._pending_cr
            and chunk.startswith(_DATA_PREFIX)
            and chunk.find(b"\n") == len(chunk) - 2
            and chunk.endswith(b"\n\n")
            and b"\r" not in chunk
        ):
            return chunk[6:-2]
        return None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        data = self.single(chunk)
        if data is not None:
            return [SSEEvent(_MESSAGE, data)]
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buffer + chunk if self._buffer else chunk
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            block = buf[start:end]
            start = end + 2
            if block.startswith(b"\n"):
                block = block.lstrip(b"\n")
            if block:
                event = _parse_block(block)
                if event is not None:
                    events.append(event)
        self._buffer = buf[start:] if start else buf
        return events

    def close(self) -> list[SSEEvent]:
        """The stream ended: return an event left without its closing blank line, if any.

        The spec drops such an event; some servers end the stream without the final blank line, so it is
        returned and the caller decides (a truncated JSON payload then fails to parse and is reported).
        """
        tail = self._buffer.strip(b"\n")
        self._buffer = b""
        self._pending_cr = False
        if not tail:
            return []
        event = _parse_block(tail)
        return [] if event is None else [event]

    @property
    def has_partial(self) -> bool:
        return bool(self._buffer.strip(b"\n"))
