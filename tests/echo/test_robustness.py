"""Bad peers never take the echo process down, and SIGTERM ends it cleanly with exit code 0."""

from __future__ import annotations

import socket
import ssl
import time

import httpx
import pytest

from tests.echo.process import EchoProcess

GARBAGE = [
    pytest.param(b"\x00\xff\x13garbage\r\n\r\n", id="binary-garbage"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: h\r\nBad Header Line\r\n\r\n", id="malformed-header"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: nope\r\n\r\n", id="bad-content-length"),
    pytest.param(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x09\x00\x00\x00\x00\x00junk", id="bad-http2-frame"
    ),
    pytest.param(b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", id="oversized-head"),
]


def send_and_read_until_closed(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            return b"<reset>"
    return received


def assert_still_serving(echo: EchoProcess) -> None:
    assert echo.proc.poll() is None, echo.stderr()
    with httpx.Client(timeout=10) as client:
        assert client.get(echo.url("http", "/health")).status_code == 200
        assert client.get(echo.url("h2c", "/"), headers={"Upgrade": "h2c"}).status_code == 200


@pytest.mark.parametrize("listener", ["http", "h2c"])
@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_is_refused_and_the_server_keeps_serving(
    echo: EchoProcess, listener: str, garbage: bytes
) -> None:
    answer = send_and_read_until_closed(echo.ports[listener], garbage)
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert_still_serving(echo)


def test_garbage_on_the_tls_port_fails_the_handshake_only(echo: EchoProcess) -> None:
    send_and_read_until_closed(echo.ports["https"], b"\x16\x03\x01\x00\x05hello-not-tls" * 10)
    assert_still_serving(echo)


def test_malformed_request_gets_a_400(echo: EchoProcess) -> None:
    answer = send_and_read_until_closed(
        echo.ports["http"], b"GET / HTTP/1.1\r\nHost: h\r\nBad Header Line\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"GET /?delay=100ms HTTP/1.1\r\nHost: h\r\n\r\n", id="before-a-delayed-response"),
        pytest.param(b"GET / HTTP/1.1\r\nHo", id="inside-the-head"),
        pytest.param(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc", id="inside-the-body"),
        pytest.param(b"PRI * HTTP/2.0\r\n", id="inside-the-http2-preface"),
    ],
)
def test_client_disconnecting_early_does_no_harm(echo: EchoProcess, partial: bytes) -> None:
    for listener in ("http", "h2c"):
        with socket.create_connection(("127.0.0.1", echo.ports[listener]), timeout=10) as sock:
            sock.sendall(partial)
    assert_still_serving(echo)


def test_tls_client_disconnecting_mid_handshake_does_no_harm(echo: EchoProcess) -> None:
    client = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO())
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    client_hello = outgoing.read()
    with socket.create_connection(("127.0.0.1", echo.ports["https"]), timeout=10) as sock:
        sock.sendall(client_hello[: len(client_hello) // 2])
    assert_still_serving(echo)


def test_sigterm_exits_zero(fresh_echo: EchoProcess) -> None:
    assert fresh_echo.terminate() == 0


def test_sigterm_with_a_request_in_flight_exits_zero_promptly(fresh_echo: EchoProcess) -> None:
    with socket.create_connection(("127.0.0.1", fresh_echo.ports["http"]), timeout=10) as sock:
        sock.sendall(b"GET /?delay=30s HTTP/1.1\r\nHost: h\r\n\r\n")
        fresh_echo.wait_for_line("Echoing back request made to /?delay=30s", prefix=True)
        started = time.monotonic()
        assert fresh_echo.terminate() == 0
    assert time.monotonic() - started < 5
