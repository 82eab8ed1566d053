"""The echo backend's HTTP/1.1 parser: framing tables, refusals, h11 as an oracle, and fuzzing."""

from __future__ import annotations

import contextlib

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contour.echo.http1_wire import (
    MAX_HEAD_BYTES,
    BodySkipper,
    RequestHead,
    WireError,
    parse_request_head,
    response_head,
)


def parsed(raw: bytes) -> RequestHead:
    result = parse_request_head(raw)
    assert result is not None, "head incomplete"
    head, length = result
    assert length == len(raw)
    return head


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", (0, True, False)),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", (0, False, False)),
        (b"GET / HTTP/1.0\r\n\r\n", (0, False, False)),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", (0, True, False)),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n", (12, True, False)),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", (5, True, False)),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", (None, True, False)),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", (3, True, True)),
        (b"GET / HTTP/1.1\nHost: h\n\n", (0, True, False)),
    ],
    ids=[
        "http11-keep-alive",
        "http11-close",
        "http10-closes",
        "http10-keep-alive",
        "content-length",
        "repeated-equal-content-length",
        "chunked",
        "expect-continue",
        "bare-lf-line-ends",
    ],
)
def test_framing_and_persistence(raw: bytes, expected: tuple[int | None, bool, bool]) -> None:
    head = parsed(raw)
    assert (head.body_length, head.keep_alive, head.expects_continue) == expected


def test_head_fields_are_kept_in_order_with_their_spelling() -> None:
    head = parsed(b"\r\nPUT /a?b=c HTTP/1.1\r\nHost: h\r\nX-a:  1 \r\nx-A: 2\r\n\r\n")
    assert (head.method, head.target, head.version) == ("PUT", "/a?b=c", "1.1")
    assert head.headers == (("Host", "h"), ("X-a", "1"), ("x-A", "2"))


def test_incomplete_head_asks_for_more() -> None:
    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: h\r\n") is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: h\r\nNo-Colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nName : v\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nA: b\x00c\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * MAX_HEAD_BYTES, 431),
    ],
    ids=[
        "http11-without-host",
        "two-hosts",
        "extra-request-line-field",
        "double-space",
        "http2-version",
        "header-without-colon",
        "space-before-colon",
        "obs-fold",
        "nul-in-value",
        "conflicting-content-length",
        "negative-content-length",
        "content-length-and-chunked",
        "unknown-transfer-coding",
        "chunked-in-http10",
        "head-too-large",
    ],
)
def test_refused_heads(raw: bytes, status: int) -> None:
    with pytest.raises(WireError) as refused:
        parse_request_head(raw)
    assert refused.value.status == status


CHUNKED = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"


@pytest.mark.parametrize("piece", [1, 2, 3, 7, len(CHUNKED)], ids=lambda n: f"{n}-byte-pieces")
def test_chunked_body_is_skipped_whatever_the_read_sizes(piece: int) -> None:
    skipper, buffer, done = BodySkipper(None), bytearray(), False
    for start in range(0, len(CHUNKED), piece):
        assert not done, "finished before the last chunk"
        buffer += CHUNKED[start : start + piece]
        done = skipper.consume(buffer)
    assert done
    assert buffer == b""


def test_content_length_body_leaves_the_next_request_in_the_buffer() -> None:
    buffer = bytearray(b"abcGET / HTTP/1.1\r\n")
    assert BodySkipper(3).consume(buffer)
    assert buffer == b"GET / HTTP/1.1\r\n"


@pytest.mark.parametrize(
    "body",
    [b"zz\r\n", b"5\r\nhelloXX", b"1" * 5000],
    ids=["bad-size", "no-crlf-after-data", "endless-size-line"],
)
def test_bad_chunked_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(WireError):
        BodySkipper(None).consume(bytearray(body))


def test_response_head_is_http11_with_reason() -> None:
    assert response_head(404, [("A", "b")]) == b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n"


_token = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1
)
_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    method=_token,
    path=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
    fields=st.lists(st.tuples(_token, _value), max_size=8),
)
def test_agrees_with_h11_on_valid_requests(method: str, path: str, fields: list[tuple[str, str]]) -> None:
    fields = [
        (name, value)
        for name, value in fields
        if name.lower() not in ("content-length", "transfer-encoding", "host")
    ]
    raw = (
        f"{method} /{path} HTTP/1.1\r\nHost: h\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
    ).encode()
    oracle = h11.Connection(h11.SERVER)
    oracle.receive_data(raw)
    event = oracle.next_event()
    assert isinstance(event, h11.Request)
    head = parsed(raw)
    assert (head.method.encode(), head.target.encode()) == (event.method, event.target)
    assert [(n.lower().encode(), v.encode()) for n, v in head.headers] == list(event.headers)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_wire_errors(data: bytes) -> None:
    for raw in (data, b"GET / HTTP/1.1\r\n" + data, b"GET / HTTP/1.1\r\n" + data + b"\r\n\r\n"):
        with contextlib.suppress(WireError):
            parse_request_head(raw)
    with contextlib.suppress(WireError):
        BodySkipper(None).consume(bytearray(data))
