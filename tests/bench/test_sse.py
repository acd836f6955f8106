from __future__ import annotations

from slotune.bench.sse import SSEDecoder, SSEEvent

STREAM = (
    b": keep-alive comment\n\n"
    b'data: {"a": 1}\n\n'
    b"event: error\ndata: line one\ndata: line two\n\n"
    b"data:no-space\n\n"
    b"id: 7\nretry: 10\n\n"  # no data: no event
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent("message", b'{"a": 1}'),
    SSEEvent("error", b"line one\nline two"),
    SSEEvent("message", b"no-space"),
    SSEEvent("message", b"[DONE]"),
]


def _decode_in_pieces(data: bytes, cuts: list[int]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    start = 0
    for cut in [*cuts, len(data)]:
        events += decoder.feed(data[start:cut])
        start = cut
    return events + decoder.close()


def test_whole_stream() -> None:
    assert _decode_in_pieces(STREAM, []) == EXPECTED


def test_every_split_point_gives_the_same_events() -> None:
    for cut in range(1, len(STREAM)):
        assert _decode_in_pieces(STREAM, [cut]) == EXPECTED, cut


def test_one_byte_at_a_time() -> None:
    assert _decode_in_pieces(STREAM, list(range(1, len(STREAM)))) == EXPECTED


def test_crlf_and_lone_cr_line_endings_even_when_split() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    cr = STREAM.replace(b"\n", b"\r")
    for data in (crlf, cr):
        assert _decode_in_pieces(data, []) == EXPECTED
        for cut in range(1, len(data)):
            assert _decode_in_pieces(data, [cut]) == EXPECTED, (data[:20], cut)


def test_blank_lines_between_events_dispatch_nothing() -> None:
    assert _decode_in_pieces(b"data: a\n\n\n\n\ndata: b\n\n", []) == [
        SSEEvent("message", b"a"),
        SSEEvent("message", b"b"),
    ]


def test_unterminated_last_event_is_returned_by_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"x": 1}\n\ndata: {"trunc') == [SSEEvent("message", b'{"x": 1}')]
    assert decoder.has_partial
    assert decoder.close() == [SSEEvent("message", b'{"trunc')]
    assert decoder.close() == []


def test_line_without_colon_is_a_field_with_empty_value() -> None:
    assert _decode_in_pieces(b"garbage\ndata: x\n\n", []) == [SSEEvent("message", b"x")]
